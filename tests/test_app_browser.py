"""The app in a real headless Chromium (Debian ``chromium`` driven by Playwright's Python package;
never ``playwright install``): typing, Backspace, clicks, Korean IME input, streaming generation,
training from an upload, errors, isolated sessions. Screenshots of each tab go to
tests/screenshots/ (git-ignored).

Under CI (``CI=true``) a missing Chromium or Playwright fails these tests; elsewhere they skip."""
import json
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(), "chargen-test-gradio"))

import pytest  # noqa: E402

from test_app_api import TEXT, start_app, train_tiny  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = os.environ.get("CHARGEN_CHROMIUM", "/usr/bin/chromium")     # Debian's package
SHOTS = Path(__file__).resolve().parent / "screenshots"
KOREAN = ("영화 정말 재밌어요. 영화가 너무 좋았어요. 배우들 연기가 최고였어요. 영화관에서 또 보고 싶어요. "
          "정말 감동적인 영화였어요. 음악도 좋았고 배우들도 좋았어요. 다음 영화도 기대돼요.\n") * 12
TIMEOUT = 15_000                      # ms for every retrying wait


@pytest.fixture(autouse=True, scope="module")
def _keep_torch_threads(keep_torch_threads):
    yield


def browser_problem() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium fonts-noto-cjk)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    problem = browser_problem()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the browser tests cannot run: {problem}")
        pytest.skip(f"browser tests need Chromium and Playwright: {problem}")
    from playwright.sync_api import sync_playwright
    home = tmp_path_factory.mktemp("chromium")
    p = sync_playwright().start()
    b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                          env={**os.environ, "TMPDIR": str(home), "XDG_CACHE_HOME": str(home / "cache"),
                               "XDG_CONFIG_HOME": str(home / "config")},
                          args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    yield b
    b.close()
    p.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser") / "checkpoints"
    root.mkdir()
    train_tiny(root, "english", TEXT)
    train_tiny(root, "korean", KOREAN, tokenizer="jamo", steps=200)
    train_tiny(root, "korean-syllables", KOREAN * 40, steps=40, hidden=16)
    demo, url = start_app(root, max_steps=60)
    yield url
    demo.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    # Offline: anything not from the app itself is blocked (and would fail the page's own checks).
    outside = []
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: (outside.append(route.request.url),
                                                                             route.abort()))
    pg = context.new_page()
    pg.goto(server)
    ready(pg, "english")
    yield pg
    context.close()
    assert not [u for u in outside if not u.startswith(("data:", "blob:"))], outside


def ready(pg, model: str):
    """Wait for the page load chain: the picker shows ``model`` and the bar has suggestions."""
    from playwright.sync_api import expect
    expect(pg.locator("#model_pick input")).to_have_value(model, timeout=TIMEOUT)
    expect(pg.locator("#kb_panel .sugg-bar button.sugg").first).to_be_attached(timeout=TIMEOUT)


def box(pg):
    return pg.locator("#kb_text textarea")


def bar_for(pg, text: str):
    """The suggestion bar once it shows suggestions for ``text``."""
    from playwright.sync_api import expect
    bar = pg.locator(f"#kb_panel .sugg-bar[data-len='{len(text)}']")
    expect(bar).to_be_visible(timeout=TIMEOUT)
    return bar


def words(pg, text: str) -> list[str]:
    return bar_for(pg, text).locator("button.sugg").all_inner_texts()


def pick_model(pg, name: str):
    pg.locator("#model_pick input").click()
    pg.get_by_role("option", name=name, exact=True).click()
    ready(pg, name)


def shot(pg, name: str):
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_typing_updates_suggestions_and_a_click_inserts(page):
    from playwright.sync_api import expect
    box(page).click()
    page.keyboard.type("First Cit")
    got = words(page, "First Cit")
    assert got and all(w.startswith("Cit") for w in got) and "Citizen" in got, got
    assert bar_for(page, "First Cit").get_attribute("data-kind") == "completions"
    expect(page.locator("#kb_panel .chips button.chip").first).to_contain_text("i")     # next-character chips
    expect(page.locator("#kb_panel .keyboard button[data-key='k:i']")).to_have_attribute("style", re.compile(r"rgba\(249,115,22,(0\.[5-9]|1\.00)"))
    shot(page, "keyboard")
    page.locator("#kb_panel button.sugg", has_text=re.compile("^Citizen$")).click()
    expect(box(page)).to_have_value("First Citizen ", timeout=TIMEOUT)
    assert bar_for(page, "First Citizen ").get_attribute("data-kind") == "next words"


def test_keystrokes_go_to_the_json_lane_not_through_gradio(page):
    """The page's own script sends every edit and click to POST /keyboard/suggest with the tab's
    session id and draws the panel from the answer: not one request to Gradio while typing."""
    from playwright.sync_api import expect
    expect(page.locator("#app_title")).to_contain_text("chargen")           # the page says what it is
    seen, last = [], [time.monotonic()]
    page.on("request", lambda r: seen.append((r.url, r.post_data or "")))
    page.on("request", lambda r: "/gradio_api/" in r.url and last.__setitem__(0, time.monotonic()))
    while time.monotonic() - last[0] < 3:       # the page load's own queued events (model card, sample) done
        page.wait_for_timeout(100)
    seen.clear()
    box(page).click()
    page.keyboard.type("First Cit", delay=30)
    assert all(w.startswith("Cit") for w in words(page, "First Cit"))
    page.keyboard.press("Backspace")
    bar_for(page, "First Ci")
    page.locator("#kb_panel .chips button.chip").first.click()              # a click goes the same way
    expect(box(page)).to_have_value(re.compile(r"^First Ci.$"), timeout=TIMEOUT)
    bar_for(page, "First Ci.")
    page.locator("#kb_panel .keyboard button[data-key='k:bksp']").click()
    expect(box(page)).to_have_value("First Ci", timeout=TIMEOUT)
    bar_for(page, "First Ci")
    assert not [u for u, _ in seen if "/gradio_api/" in u], seen
    lane = [body for u, body in seen if u.endswith("/keyboard/suggest")]
    assert len(lane) >= 4 and len({json.loads(b)["session"] for b in lane}) == 1      # one session: this tab's
    assert page.locator("#kb_panel .pchart").count() == 0      # the probabilities in one place: the chips


def test_backspace_paste_chips_and_keys(page):
    from playwright.sync_api import expect
    box(page).click()
    page.keyboard.type("All:\nSpeak, spe")
    assert all(w.startswith("spe") for w in words(page, "All:\nSpeak, spe"))
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    assert all(w.startswith("s") for w in words(page, "All:\nSpeak, s"))     # Backspace: new suggestions
    box(page).fill("You are all resolved rather to d")                       # a paste (one edit)
    assert "die" in words(page, "You are all resolved rather to d")
    page.locator("#kb_panel .chips button.chip").first.click()                         # a chip types its character
    expect(box(page)).to_have_value(re.compile(r"^You are all resolved rather to d.$"), timeout=TIMEOUT)
    before = box(page).input_value()
    page.locator("#kb_autocorrect label", has_text="off").click()      # the keys as typed (autocorrect has its test)
    page.locator("#kb_panel .keyboard button[data-key='k:space']").click()                 # an on-screen key
    expect(box(page)).to_have_value(before + " ", timeout=TIMEOUT)
    page.locator("#kb_panel .keyboard button[data-key='k:bksp']").click()
    expect(box(page)).to_have_value(before, timeout=TIMEOUT)


def test_on_screen_space_autocorrects_and_backspace_undoes_it(page):
    from playwright.sync_api import expect
    box(page).click()
    page.keyboard.type("First Citizn")
    expect(page.locator("#kb_panel .sugg.fix").first).to_have_text("Citizen", timeout=TIMEOUT)   # a marked correction
    page.locator("#kb_autocorrect label", has_text="modest").click()
    page.locator("#kb_panel .keyboard button[data-key='k:space']").click()
    expect(box(page)).to_have_value("First Citizen ", timeout=TIMEOUT)
    page.locator("#kb_panel .keyboard button[data-key='k:bksp']").click()    # right after: what was typed
    expect(box(page)).to_have_value("First Citizn", timeout=TIMEOUT)
    page.locator("#kb_panel .keyboard button[data-key='k:space']").click()    # and it is not corrected again
    expect(box(page)).to_have_value("First Citizn ", timeout=TIMEOUT)


def test_korean_ime_input_gives_korean_suggestions(page):
    from playwright.sync_api import expect
    pick_model(page, "korean")
    expect(page.locator("#kb_panel .keyboard button[data-key='k:%E3%85%87']")).to_be_visible()    # the ㅇ key: a Korean layout
    box(page).click()
    cdp = page.context.new_cdp_session(page)
    for syllable, steps in (("영", ["ㅇ", "여", "영"]), ("화", ["ㅎ", "화"])):
        for composing in steps:      # what an IME shows while composing, then the committed syllable
            cdp.send("Input.imeSetComposition", {"text": composing, "selectionStart": 1, "selectionEnd": 1})
        cdp.send("Input.insertText", {"text": syllable})
    expect(box(page)).to_have_value("영화", timeout=TIMEOUT)
    got = words(page, "영화")
    assert got and all(re.fullmatch(r"영화[가-힣]+", w) for w in got), got
    chip = page.locator("#kb_panel .chips button.chip").first.inner_text()
    assert re.match(r"[\u3131-\u318e␣⏎.]", chip), chip                      # jamo shown as keyboard letters
    shot(page, "keyboard-korean")
    page.locator("#kb_panel button.sugg").first.click()
    expect(box(page)).to_have_value(re.compile(r"^영화[가-힣]+ $"), timeout=TIMEOUT)


def test_a_syllable_model_completes_the_syllable_an_ime_is_composing(page):
    from playwright.sync_api import expect
    pick_model(page, "korean-syllables")
    box(page).click()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.insertText", {"text": "배우들 연기가 "})
    for composing in ("ㅊ", "초"):  # still composing: 초 may yet become 최
        cdp.send("Input.imeSetComposition", {"text": composing, "selectionStart": 1, "selectionEnd": 1})
    expect(box(page)).to_have_value("배우들 연기가 초", timeout=TIMEOUT)
    assert "최고였어요" in words(page, "배우들 연기가 초")
    page.locator("#kb_panel button.sugg", has_text="최고였어요").click()
    expect(box(page)).to_have_value("배우들 연기가 최고였어요 ", timeout=TIMEOUT)


def test_generation_streams_and_stops(page):
    from playwright.sync_api import expect
    page.get_by_role("tab", name="Generate").click()
    page.locator("#gen_prompt textarea").fill("First")
    page.get_by_label("Length").first.fill("10000")
    page.get_by_label("Seed").fill("3")
    # Sample the output box every 2 ms; with stop_at, click Stop as soon as that much of the new
    # text has arrived (armed once the box holds the new text: shorter than that, or no longer the old
    # text's start, as when a busy host delivers the first thousand characters at once). A person
    # would be slower than a tiny model that writes 10,000 characters in a fraction of a second.
    sampler = """(stopAt) => { clearInterval(window.__sampler); window.__lens = []; delete window.__stoppedAt;
        const out = document.querySelector('#gen_out textarea'); let armed = false;
        const old = out.value.slice(0, 300);
        window.__sampler = setInterval(() => { const n = out.value.length;
          if (window.__lens[window.__lens.length - 1] !== n) window.__lens.push(n);
          armed = armed || n < stopAt || out.value.slice(0, 300) !== old;
          if (stopAt && armed && n >= stopAt) { window.__stoppedAt = n; document.querySelector('#gen_stop').click();
                                                stopAt = 0; } }, 2); }"""
    page.evaluate(sampler, 0)
    page.locator("#gen_btn").click()
    expect(page.locator("#gen_out textarea")).to_have_value(re.compile(r"^First.{10000}$", re.S), timeout=TIMEOUT)
    lens = page.evaluate("window.__lens")
    assert len([n for n in lens if 0 < n < 10005]) >= 2, lens                 # it grew in steps
    shot(page, "generate")

    page.get_by_label("Length").first.fill("10000")
    page.get_by_label("Seed").fill("4")
    page.evaluate(sampler, 1010)             # early: 9,000 characters of margin for the click on a busy host
    page.locator("#gen_btn").click()
    page.wait_for_function("window.__stoppedAt !== undefined", timeout=TIMEOUT)
    out = page.locator("#gen_out textarea")
    stopped, t = out.input_value(), time.monotonic()
    while time.monotonic() - t < 10:              # the stream stops: no change for half a second
        page.wait_for_timeout(500)
        now = out.input_value()
        if now == stopped:
            break
        stopped = now
    page.wait_for_timeout(500)
    assert out.input_value() == stopped                                        # nothing after Stop
    assert 1010 <= len(stopped) < len("First") + 10000, len(stopped)           # Stop ended it early


def test_training_from_an_upload_and_a_bad_upload(page, tmp_path):
    from playwright.sync_api import expect
    page.get_by_role("tab", name="Train").click()
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\u00e9 cr\u00e8me, na\u00efve fa\u00e7ade. ".encode("latin-1") * 20)
    page.locator("#train_files input[type=file]").set_input_files(str(bad))
    expect(page.locator("#train_files")).to_contain_text("latin1.txt", timeout=TIMEOUT)
    page.locator("#train_start").click()
    expect(page.locator("#train_error")).to_contain_text("is not valid utf-8", timeout=TIMEOUT)
    expect(page.locator("#train_error")).to_contain_text("byte offset 3")
    assert "Traceback" not in page.content()

    good = tmp_path / "uploaded.txt"
    good.write_text(TEXT, encoding="utf-8")
    clear = page.locator("#train_files button[aria-label='Clear']")
    if clear.count():                            # drop the bad file (else both would be used)
        clear.first.click()
    page.locator("#train_files input[type=file]").set_input_files(str(good))
    expect(page.locator("#train_files")).to_contain_text("uploaded.txt", timeout=TIMEOUT)
    page.locator("#train_name textarea, #train_name input").first.fill("uploaded")
    page.locator("#train_start").click()
    expect(page.locator("#train_status")).to_contain_text("finished: saved as uploaded", timeout=60_000)
    expect(page.locator("#train_error")).to_have_text("")
    expect(page.locator("#train_progress .progress")).to_have_attribute("data-state", "done")
    expect(page.locator("#train_samples textarea")).to_have_value(re.compile(r"── step \d+ ──"))
    shot(page, "train")
    page.get_by_role("tab", name="Model").click()
    expect(page.locator("#model_card")).to_contain_text("english", timeout=TIMEOUT)
    expect(page.locator("#model_sample textarea")).not_to_have_value("", timeout=TIMEOUT)
    old_sample = page.locator("#model_sample textarea").input_value()
    pick_model(page, "uploaded")                 # the new model is in the picker and loads
    expect(page.locator("#model_card")).to_contain_text("uploaded", timeout=TIMEOUT)
    expect(page.locator("#model_card")).to_contain_text("uploaded.txt (3,500 characters)")
    expect(page.locator("#model_card")).to_contain_text("val bpc")
    expect(page.locator("#model_sample textarea")).not_to_have_value(old_sample, timeout=TIMEOUT)
    shot(page, "model")


COLOURS_JS = "() => [...document.querySelectorAll('#inside_view .inside-text .c')].map(e => e.style.background)"


def test_the_inside_tab_colours_the_text_and_another_unit_recolours_it(page):
    from playwright.sync_api import expect
    from chargen.web.inside_view import ENGLISH_TEXT
    page.get_by_role("tab", name="Inside").click()            # opens with the passage already analysed
    expect(page.locator("#inside_view .inside-text .c")).to_have_count(len(ENGLISH_TEXT), timeout=TIMEOUT)
    before = page.evaluate(COLOURS_JS)
    assert len(set(before)) > 10 and all(c.startswith("rgba(") for c in before), before[:5]
    expect(page.locator("#inside_view .inside-text .g")).to_have_count(5 * len(ENGLISH_TEXT))   # top-5 under each
    expect(page.locator("#inside_cell input")).to_have_value(re.compile(r"layer \d · [hc] · unit \d+ — .+: r = [+-]0\.\d\d"))
    expect(page.locator("#inside_ranking table tr")).not_to_have_count(0)
    expect(page.locator("#inside_saturation")).to_contain_text("forget")
    page.locator("#inside_cell input").click()
    second = page.get_by_role("option").nth(1)
    picked = second.inner_text()
    second.click()
    page.wait_for_function(f"(before) => {{ const now = ({COLOURS_JS})(); "
                           "return now.length === before.length && now.join() !== before.join(); }", arg=before,
                           timeout=TIMEOUT)
    unit = re.search(r"unit (\d+)", picked).group(1)
    expect(page.locator("#inside_unit input")).to_have_value(unit)
    page.locator("#inside_view .col[data-i='40'] .c").click()  # explain the prediction after character 40
    expect(page.locator("#inside_pos input")).to_have_value("40", timeout=TIMEOUT)
    expect(page.locator("#inside_conn .c.here")).to_have_count(1)
    expect(page.locator("#inside_conn")).to_contain_text("The prediction after character 40")
    shot(page, "inside-tiny")


LEARN = "The Zanzibar ship came in. The Zanzibar crew went out. " * 4


def test_the_keyboard_learns_keeps_what_it_was_taught_and_forgets(page):
    from playwright.sync_api import expect
    status = page.locator("#kb_status")
    expect(status).to_contain_text("nothing learned yet", timeout=TIMEOUT)
    expect(page.locator("#kb_learn input")).to_be_checked()
    box(page).click()
    box(page).fill(LEARN)                       # a paste: its finished segments are learned in the background
    for _ in range(60):                         # the next keystrokes take the weights the worker made ready
        page.keyboard.type("a")
        if "words learned" in (status.text_content() or ""):
            break
        time.sleep(0.2)
    expect(status).to_contain_text("words learned", timeout=TIMEOUT)
    expect(status).to_contain_text("bits/char")
    shot(page, "keyboard-learning")
    page.locator("#kb_keep").click()
    expect(page.locator("#kb_note")).to_contain_text("Kept", timeout=TIMEOUT)
    # another tab of this browser starts from what was kept: the user's own word is offered
    other = page.context.new_page()
    other.goto(page.url)
    ready(other, "english")
    expect(other.locator("#kb_status")).to_contain_text("words learned", timeout=TIMEOUT)
    box(other).click()
    other.keyboard.type("A day. The Zan")
    assert "Zanzibar" in words(other, "A day. The Zan")
    other.locator("#kb_forget").click()
    expect(other.locator("#kb_note")).to_contain_text("kept profile is deleted", timeout=TIMEOUT)
    expect(other.locator("#kb_status")).to_contain_text("nothing learned yet", timeout=TIMEOUT)
    other.close()


def test_two_contexts_do_not_share_state(browser, server):
    from playwright.sync_api import expect
    pages = []
    for _ in range(2):
        ctx = browser.new_context()
        pg = ctx.new_page()
        pg.goto(server)
        ready(pg, "english")
        box(pg).click()
        pages.append(pg)
    a, b = pages
    a.keyboard.type("First Cit")
    b.keyboard.type("Speak, spe")
    a.keyboard.type("iz")                       # interleaved typing: each tab keeps its own text
    b.keyboard.press("Backspace")
    assert all(w.startswith("Citiz") for w in words(a, "First Citiz"))
    assert all(w.startswith("sp") for w in words(b, "Speak, sp"))
    b.locator("#kb_panel button.sugg").first.click()
    expect(box(b)).to_have_value(re.compile(r"^Speak, sp\w+ $"), timeout=TIMEOUT)
    expect(box(a)).to_have_value("First Citiz")
    for pg in pages:
        pg.context.close()


def test_no_model_yet(browser, tmp_path):
    from playwright.sync_api import expect
    demo, url = start_app(tmp_path / "checkpoints")
    try:
        pg = browser.new_page()
        pg.goto(url)
        expect(pg.locator("#kb_panel")).to_contain_text("No model yet", timeout=TIMEOUT)
        pg.get_by_role("tab", name="Model").click()
        expect(pg.locator("#model_card")).to_contain_text("No model yet", timeout=TIMEOUT)
        pg.get_by_role("tab", name="Train").click()
        pg.locator("#train_start").click()                    # Train works: it asks for a corpus
        expect(pg.locator("#train_error")).to_contain_text("upload one or more .txt files", timeout=TIMEOUT)
        pg.close()
    finally:
        demo.close()
