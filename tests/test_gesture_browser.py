"""Gesture typing on the Keyboard tab in a real headless Chromium (chargen/web/gesture.js and
keyboard.js): a mouse dragged across the on-screen keys h-e-l-l-o inserts "hello" and a space,
Backspace right after takes the whole word out, the gesture's other words are offered in the bar,
a tap still types its key, and a Korean word drawn through its jamo keys (영화). The models are tiny
ones trained here on text where those words are common (not the bundled checkpoints).

Same browser set-up as tests/test_app_browser.py (Debian's chromium, Playwright's Python package)."""
import re

import pytest

from chargen.noise import spell_keys
from test_app_api import ENGLISH, start_app, train_tiny
from test_app_browser import KOREAN, TIMEOUT, box, browser, browser_problem, pick_model, ready, shot  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HELLO = ("She said hello to me. I said hello to her. Hello there, hello again. We say hello when we meet.\n"
         "He came to help. The hole in the wall. Hello, hello, hello.\n") * 30 + ENGLISH * 5


@pytest.fixture(autouse=True, scope="module")
def _keep_torch_threads(keep_torch_threads):
    yield


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("gesture") / "checkpoints"
    root.mkdir()
    train_tiny(root, "english", HELLO)
    train_tiny(root, "korean", KOREAN, tokenizer="jamo", steps=200)
    demo, url = start_app(root)
    yield url
    demo.close()


@pytest.fixture
def page(browser, server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: route.abort())   # offline
    pg = context.new_page()
    pg.goto(server)
    ready(pg, "english")
    yield pg
    context.close()


def key(pg, k: str):
    from urllib.parse import quote
    return pg.locator(f"#kb_panel .keyboard button[data-key='k:{quote(k)}']")


def centre(pg, k: str) -> tuple[float, float]:
    b = key(pg, k).bounding_box()
    return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2


def drag(pg, keys: str, steps: int = 8, release: bool = True):
    """Press the mouse on the first key's centre, slide through the others' centres, release."""
    pts = [centre(pg, k) for k in keys]
    pg.mouse.move(*pts[0])
    pg.mouse.down()
    for p in pts[1:]:
        pg.mouse.move(*p, steps=steps)
    if release:
        pg.mouse.up()


def test_a_drag_across_h_e_l_l_o_inserts_hello_and_backspace_takes_it_out(page):
    from playwright.sync_api import expect
    box(page).click()
    page.keyboard.type("I said ")
    expect(page.locator("#kb_panel .sugg-bar[data-len='7']")).to_be_visible(timeout=TIMEOUT)
    lane = []
    page.on("request", lambda r: r.url.endswith("/keyboard/suggest") and lane.append(r.post_data_json))
    drag(page, "hello", release=False)
    trail = page.locator("canvas.gesture-trail")
    expect(trail).to_be_visible()                                            # drawn while the mouse slides
    shot(page, "keyboard-gesture-trail")
    page.mouse.up()
    expect(box(page)).to_have_value("I said hello ", timeout=TIMEOUT)
    expect(trail).to_be_hidden(timeout=TIMEOUT)                              # and gone after the release
    sent = [b for b in lane if "gesture" in b]
    assert len(sent) == 1 and len(sent[0]["gesture"]) > 10 and set("helo") <= set(sent[0]["layout"]), sent
    bar = page.locator("#kb_panel .sugg-bar[data-kind='gesture']")           # the other words, offered
    expect(bar).to_be_visible(timeout=TIMEOUT)
    assert "hello" not in bar.locator("button.sugg").all_inner_texts()
    shot(page, "keyboard-gesture")
    box(page).press("Backspace")                                             # right after: the whole word
    expect(box(page)).to_have_value("I said ", timeout=TIMEOUT)
    expect(page.locator("#kb_panel .sugg-bar[data-kind='next words']")).to_be_visible(timeout=TIMEOUT)

    page.keyboard.type("x")                               # after a partial word: a space, then the word
    drag(page, "hello")
    expect(box(page)).to_have_value("I said x hello ", timeout=TIMEOUT)
    alternatives = page.locator("#kb_panel .sugg-bar[data-kind='gesture'] button.sugg")
    expect(alternatives.first).to_be_visible(timeout=TIMEOUT)
    other = alternatives.first.inner_text()
    alternatives.first.click()                            # another of the gesture's words in its place
    expect(box(page)).to_have_value(f"I said x {other} ", timeout=TIMEOUT)
    key(page, "bksp").click()                             # the on-screen ⌫ takes it out too
    expect(box(page)).to_have_value("I said x", timeout=TIMEOUT)


def test_a_tap_still_types_its_key(page):
    from playwright.sync_api import expect
    box(page).click()
    page.keyboard.type("I said ")
    expect(page.locator("#kb_panel .sugg-bar[data-len='7']")).to_be_visible(timeout=TIMEOUT)
    x, y = centre(page, "g")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 6, y + 3, steps=3)                # a wobble well under half a key
    page.mouse.up()
    expect(box(page)).to_have_value("I said g", timeout=TIMEOUT)
    key(page, "o").click()                                # a plain click, as before
    expect(box(page)).to_have_value("I said go", timeout=TIMEOUT)


def test_a_korean_word_drawn_through_its_jamo_keys(page):
    from playwright.sync_api import expect
    pick_model(page, "korean")
    expect(key(page, "ㅇ")).to_be_visible()
    box(page).click()
    drag(page, spell_keys("영화", True))                   # ㅇ ㅕ ㅇ ㅎ ㅗ ㅏ
    expect(box(page)).to_have_value("영화 ", timeout=TIMEOUT)
    shot(page, "keyboard-gesture-korean")


def test_a_finger_draws_a_word_and_a_touch_tap_types_its_key(browser, server):  # noqa: F811
    """Touch: the same Pointer Events path, from CDP touch events (a phone's finger)."""
    from playwright.sync_api import expect
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, has_touch=True)
    pg = context.new_page()
    try:
        pg.goto(server)
        ready(pg, "english")
        box(pg).click()
        pg.keyboard.type("I said ")
        expect(pg.locator("#kb_panel .sugg-bar[data-len='7']")).to_be_visible(timeout=TIMEOUT)
        pg.evaluate("window.__types = []; addEventListener('pointerdown', (e) => __types.push(e.pointerType), true)")
        cdp = pg.context.new_cdp_session(pg)
        pts = [centre(pg, k) for k in "hello"]
        touch = lambda kind, x, y: cdp.send("Input.dispatchTouchEvent", {            # noqa: E731
            "type": kind, "touchPoints": [] if kind == "touchEnd" else [{"x": x, "y": y}]})
        touch("touchStart", *pts[0])
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            for i in range(1, 9):
                touch("touchMove", x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8)
        touch("touchEnd", 0, 0)
        expect(box(pg)).to_have_value("I said hello ", timeout=TIMEOUT)
        key(pg, "g").tap()
        expect(box(pg)).to_have_value("I said hello g", timeout=TIMEOUT)
        assert pg.evaluate("window.__types") == ["touch", "touch"]               # a finger, not a mouse
    finally:
        context.close()
