"""The Keyboard tab's keystroke path without a browser: the JSON lane's call as the page makes it
(session id, browser id, "panel", a click as "key"), learning, Keep and Forget on that same session,
and a kept session that the lane's pool drops saving what it learned since."""
import time

import pytest

from test_app_adapt import TYPED, catalog  # noqa: F401  (its tiny model, module-scoped; it sets Gradio's env first)
from chargen.web.handlers import KeyboardApi, forget_profile, keep_profile  # noqa: E402

BROWSER = "browser-id-lane-0123"


def page_types(api, sid, text, start=1, browser=BROWSER):
    """The page's requests while ``text`` is typed (7 keys per request), each step's learning finished."""
    answer = None
    for i in list(range(start, len(text) + 1, 7)) + [len(text)]:
        answer = api.suggest_now(text[:i], "english", 3, sid, True, "modest", browser, "", True)
        learner = api.pool.checkout(sid)[1].session.learner
        if learner is not None:
            learner.wait()
    return answer


def test_the_tabs_session_learns_keeps_and_forgets_through_the_lane(catalog):
    api = KeyboardApi(catalog)
    first = page_types(api, "tab-a", TYPED)
    assert first["text"] == TYPED and "words learned" in first["status"] and "corrections" not in first
    _, typist = api.pool.checkout("tab-a")
    assert "Kept" in keep_profile(catalog, "english", typist, BROWSER)
    # another tab of this browser (a new session id) starts from what was kept
    other = api.suggest_now("A day. The Zan", "english", 3, "tab-b", True, "modest", BROWSER, "", True)
    assert "words learned" in other["status"]
    assert "Forgotten" in forget_profile(catalog, "english", api.pool.checkout("tab-b")[1], BROWSER)
    again = api.suggest_now("A day. The Zan", "english", 3, "tab-b", True, "modest", BROWSER, "", True)
    assert "nothing learned yet" in again["status"] and not catalog.profile_path("english", BROWSER).exists()


def test_a_click_is_applied_before_the_answer(catalog):
    api = KeyboardApi(catalog)
    r = api.suggest_now("First Cit", "english", 3, "tab-c", True, "off", BROWSER, "w:Citizen", True)
    assert r["text"] == "First Citizen " and r["kind"] == "next words"
    r = api.suggest_now(r["text"], "english", 3, "tab-c", True, "off", BROWSER, "k:bksp", True)
    assert r["text"] == "First Citizen"


def test_a_kept_session_the_pool_drops_saves_what_it_learned_since(catalog):
    api = KeyboardApi(catalog)
    page_types(api, "tab-d", TYPED, browser="browser-id-lane-drop")
    _, typist = api.pool.checkout("tab-d")
    keep_profile(catalog, "english", typist, "browser-id-lane-drop")
    path = catalog.profile_path("english", "browser-id-lane-drop")
    before = path.stat().st_mtime_ns
    text = TYPED + "More Zanzibar news today, and more. "
    page_types(api, "tab-d", text, start=len(TYPED) + 1, browser="browser-id-lane-drop")
    time.sleep(0.01)
    api.pool.idle_seconds = 0                      # the next call finds tab-d idle: dropped, and saved
    api.pool.checkout("someone-else")
    for _ in range(100):
        if path.stat().st_mtime_ns > before:
            break
        time.sleep(0.05)
    assert path.stat().st_mtime_ns > before and "tab-d" not in api.pool._by_id
    path.unlink()


def test_the_lane_decodes_a_gesture_and_refuses_bad_points(catalog):
    from chargen.keys import LATIN_ROWS, key_centres
    api = KeyboardApi(catalog)
    centres = key_centres(LATIN_ROWS)
    answer = api.suggest_now("The ", "english", 3, "", gesture=[list(centres[c]) for c in "the"])
    assert answer["kind"] == "gesture" and answer["words"][0][0].lower() == "the", answer
    with pytest.raises(ValueError):
        api.suggest_now("The ", "english", 3, "", gesture=[[float("nan"), 0.0], [1.0, 1.0]])
