"""The app's learning controls without a browser: a tab's session learns, "Keep what I taught it"
files a profile per browser beside the model, another tab of that browser starts from it, "Forget"
deletes it and gives back the trained model; API sessions with an id learn, bounded in memory."""
import os
import tempfile
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(), "chargen-test-gradio"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chargen.catalog import Catalog  # noqa: E402
from chargen.typists import Typist, TypistPool  # noqa: E402
from chargen.web.handlers import KeyboardApi, forget_profile, keep_profile, keyboard_view  # noqa: E402
from test_app_api import TEXT, train_tiny  # noqa: E402

BROWSER = "browser-id-0123456789"
TYPED = "The Zanzibar ship came in. The Zanzibar crew went out. " * 3


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, keep_torch_threads):
    root = tmp_path_factory.mktemp("adapt") / "checkpoints"
    root.mkdir()
    train_tiny(root, "english", TEXT, steps=60, hidden=32)
    return Catalog(root)


def _type(catalog, typist, text, learn=True):
    """Type ``text`` on from what the tab holds (7 keys per event), letting each step finish."""
    html, start = "", len(typist.session.text) + 1 if typist is not None and typist.session is not None else 1
    for i in range(start, len(text) + 1, 7):
        html, typist = keyboard_view(catalog, text[:i], "english", typist, learn, BROWSER)
        typist.session.learner and typist.session.learner.wait()
    html, typist = keyboard_view(catalog, text, "english", typist, learn, BROWSER)
    return html, typist


def test_a_tab_learns_keeps_and_forgets(catalog):
    html, tab = _type(catalog, None, TYPED)
    st = tab.session.learner.status()
    assert st["steps"] > 0 and "Zanzibar" in tab.session.learner.lexicon.unigrams
    assert 'id="kb_status"' in html and "words learned" in html
    note = keep_profile(catalog, "english", tab, BROWSER)
    path = catalog.profile_path("english", BROWSER)
    assert note.startswith("Kept") and path.exists() and catalog.names() == ["english"]
    # another tab of the same browser starts from what was kept
    html, other = keyboard_view(catalog, "A new day. The Zan", "english", None, True, BROWSER)
    assert other.session.learner.current.steps == st["steps"]
    assert "Zanzibar" in other.session.suggest(3)
    fresh, _ = keyboard_view(catalog, "A new day. The Zan", "english", None, True, "another-browser-id")
    assert "Zanzibar" not in fresh                           # other browsers know nothing of it
    note = forget_profile(catalog, "english", other, BROWSER)
    assert note.startswith("Forgotten") and not path.exists()
    trained = catalog.predictor("english").session(composing=True)
    trained.set_text("A new day. The Zan")
    assert other.session.learner.current.steps == 0 and np.array_equal(other.session.logits, trained.logits)


def test_learning_switched_off_learns_nothing(catalog):
    _, tab = _type(catalog, None, TYPED, learn=False)
    assert tab.session.learner is None
    _, tab = _type(catalog, tab, TYPED + TYPED, learn=True)
    assert tab.session.learner.current.steps > 0
    steps = tab.session.learner.current.steps
    _, tab = _type(catalog, tab, TYPED * 3, learn=False)             # paused: learning stops
    assert tab.session.learner.current.steps == steps and "paused" in tab.status_line()


def test_a_kept_tab_dropped_for_idling_saves_what_it_learned_since(catalog):
    _, tab = _type(catalog, None, TYPED)
    keep_profile(catalog, "english", tab, BROWSER)
    path = catalog.profile_path("english", BROWSER)
    before = path.stat().st_mtime_ns
    _, tab = _type(catalog, tab, TYPED + "More Zanzibar news today, and more. ")
    time.sleep(0.01)
    tab.save_if_kept()
    assert path.stat().st_mtime_ns > before
    forget_profile(catalog, "english", tab, BROWSER)


def test_api_sessions_with_an_id_learn_and_the_pool_stays_bounded(catalog):
    api = KeyboardApi(catalog)
    for i in range(1, len(TYPED), 9):
        api.suggest_now(TYPED[:i], "english", 3, "learner-1")
        api.pool.checkout("learner-1")[1].session.learner.wait()
    _, typist = api.pool.checkout("learner-1")
    assert typist.session.learner.current.steps > 0
    anonymous = api.suggest_now(TYPED, "english", 3, "")
    assert anonymous["session"]                                   # id-less callers do not learn
    assert all(t.session.learner is None for t in api.pool._anonymous)
    one = typist.memory_bytes()
    pool = TypistPool(max_bytes=int(one * 2.5))
    for k in range(5):
        for i in range(1, len(TYPED), 9):
            sid, t = pool.checkout(f"user{k}")
            with t.lock:
                t.session_for(catalog.predictor("english"), "english", TYPED[:i], learn=True)
                t.session.learner.wait()
    assert len(pool) < 5 and pool.memory_bytes() <= one * 3.5


def test_a_profile_of_another_model_under_the_same_name_is_not_loaded(catalog, tmp_path):
    path = catalog.profile_path("english", "stale-browser-id")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    html, tab = keyboard_view(catalog, "Hello there", "english", None, True, "stale-browser-id")
    assert "not loaded" in html and tab.session.learner is not None and tab.session.learner.current.steps == 0
    path.unlink()
