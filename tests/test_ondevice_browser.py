"""The keyboard that runs in the browser, in the real headless Chromium: the page the app serves at
/ondevice/ (and the exported folder opened as a file) loads the ONNX step model with onnxruntime-web,
and for text typed from the corpus its suggestion bar, completions and next-character chips are the
Python engine's for the same model (the model alone: ``Predictor(model, tok, words=None,
cache=False)``, float32 kernels), with no request to the server per keystroke.

onnxruntime-web comes from ``chargen/browser/fetch-ort.sh`` (npm), which ``.ci/run`` runs; this module
runs it too where it has not been run. Under CI (``CI=true``) anything missing fails these tests."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from test_app_api import start_app, train_tiny
from test_app_browser import browser  # noqa: F401  (the Chromium fixture)
from conftest import KOREAN

from chargen.checkpoint import load_checkpoint
from chargen.faststep import FastStepper
from chargen.predictor import Predictor
from chargen.resources import browser_dir, bundled
from chargen.words import current_word

pytestmark = [pytest.mark.slow, pytest.mark.browser]
TIMEOUT = 30_000
AUSTEN = (bundled("corpora") / "austen" / "austen-persuasion.txt").read_text(encoding="utf-8")
# prefixes cut from the corpus: inside a word, just after a space, after punctuation
PREFIXES = [AUSTEN[30_000:30_000 + n] for n in (57, 80, 143)] + ["Mr. Knightl", "Emma was "]
ENGINE_JS = """async ([text, n]) => { const s = window.chargen.engine.session(); await s.setText(text);
  return {suggest: await s.suggest(n), complete: await s.completeWord(5), chars: s.nextChars(8)}; }"""


def ensure_ort_web():
    vendor = browser_dir() / "vendor" / "ort-wasm-simd-threaded.wasm"
    if not vendor.is_file():
        r = subprocess.run(["bash", str(browser_dir() / "fetch-ort.sh")], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            message = f"onnxruntime-web could not be fetched (npm): {r.stderr.strip()[-300:]}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)


def python_engine(path) -> Predictor:
    model, tok, _ = load_checkpoint(path)
    return Predictor(model, tok, words=None, cache=False,
                     stepper=FastStepper(model, kernels={"exact": "numpy", "search": "numpy"}))


def python_answer(p: Predictor, text: str) -> dict:
    s = p.session(text)
    return {"suggest": s.suggest(3), "complete": s.complete_word(5), "chars": s.next_chars(8)}


def assert_same(page: dict, py: dict, text: str):
    assert page["suggest"] == py["suggest"], text
    assert [w for w, _ in page["complete"]] == [w for w, _ in py["complete"]], text
    for (_, a), (_, b) in zip(page["complete"], py["complete"]):
        assert a == pytest.approx(b, rel=1e-3, abs=1e-6), text
    assert [c for c, _ in page["chars"]] == [c for c, _ in py["chars"]], text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ensure_ort_web()
    root = tmp_path_factory.mktemp("ondevice") / "checkpoints"
    root.mkdir()
    (root / "default").symlink_to(bundled("checkpoints") / "default")     # the bundled 2 x 256 LSTM
    train_tiny(root, "korean", KOREAN * 12, tokenizer="jamo", steps=60)
    before = os.environ.get("CHARGEN_ONDEVICE_CACHE")
    os.environ["CHARGEN_ONDEVICE_CACHE"] = str(root.parent / "exports")
    demo, url = start_app(root)
    yield url, root
    demo.close()
    if before is None:
        os.environ.pop("CHARGEN_ONDEVICE_CACHE", None)
    else:
        os.environ["CHARGEN_ONDEVICE_CACHE"] = before


@pytest.fixture
def context(browser):  # noqa: F811
    ctx = browser.new_context()
    outside = []
    ctx.route(re.compile(r"^(?!(http://127\.0\.0\.1:|file://|blob:|data:)).*"),
              lambda route: (outside.append(route.request.url), route.abort()))
    yield ctx
    ctx.close()
    assert not outside, outside


def open_page(context, url: str):
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_function("window.chargen && window.chargen.engine", timeout=TIMEOUT)
    assert not errors, errors
    return pg


def test_typed_text_gets_the_python_engines_suggestions_without_asking_the_server(context, server):
    url, root = server
    pg = open_page(context, f"{url}/ondevice/?model=default")
    p = python_engine(root / "default")
    requests = []
    pg.on("request", lambda r: requests.append(r.url))
    box = pg.locator("#text")
    for text in PREFIXES[:2]:
        box.fill("")
        box.press_sequentially(text)                          # keystrokes, each an input event
        pg.wait_for_function("t => document.getElementById('bar').dataset.text === t", arg=text, timeout=TIMEOUT)
        expected = python_answer(p, text)
        assert pg.locator("#bar button").all_inner_texts() == expected["suggest"], text
        assert len(pg.locator("#chips button").all_inner_texts()) == len(expected["chars"])
    assert requests == [], f"the page asked the server while typing: {requests}"
    pg.locator("#bar button").first.click()                   # a suggestion: the word in place, then a space
    text = PREFIXES[1]
    assert box.input_value() == text[:len(text) - len(current_word(text))] + python_answer(p, text)["suggest"][0] + " "
    for text in PREFIXES:
        assert_same(pg.evaluate(ENGINE_JS, [text, 3]), python_answer(p, text), text)


def test_a_jamo_model_in_the_page(context, server):
    url, root = server
    pg = open_page(context, f"{url}/ondevice/?model=korean")
    p = python_engine(root / "korean")
    for text in ("영화 정말 재", "배우들 연기가 ", "영화가 너무 좋"):
        assert_same(pg.evaluate(ENGINE_JS, [text, 3]), python_answer(p, text), text)


def test_the_apps_link_opens_the_default_model(context, server):
    url, _ = server
    pg = open_page(context, f"{url}/ondevice")                 # the Keyboard tab's link, without a model
    assert "model=default" in pg.url
    assert pg.evaluate(ENGINE_JS, ["Mr. Knightl", 3])["suggest"][0] == "Knightley"


def test_unknown_model_is_refused(context, server):
    url, _ = server
    pg = context.new_page()
    pg.goto(f"{url}/ondevice/?model=nope")
    from playwright.sync_api import expect
    expect(pg.locator("#status")).to_contain_text("no checkpoint named", timeout=TIMEOUT)


def test_the_exported_folder_opens_as_a_file(context, tmp_path):
    ensure_ort_web()
    from chargen.onnx_export import export_onnx
    out = tmp_path / "default"
    export_onnx(bundled("checkpoints") / "default", out, int8=False)
    pg = context.new_page()
    pg.goto(Path(out / "index.html").as_uri())
    pg.locator("#folder").set_input_files(str(out))           # the folder picker: the page reads it, no fetch
    pg.wait_for_function("window.chargen && window.chargen.engine", timeout=TIMEOUT)
    p = python_engine(bundled("checkpoints") / "default")
    assert_same(pg.evaluate(ENGINE_JS, ["Mr. Knightl", 3]), python_answer(p, "Mr. Knightl"), "Mr. Knightl")
