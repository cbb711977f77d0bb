"""The keyboard that runs in the browser, in the real headless Chromium: the page the app serves at
/ondevice/ (and the exported folder opened as a file) loads the ONNX step model with onnxruntime-web,
and for text typed from the corpus its suggestion bar, completions and next-character chips are the
Python engine's for the same model and the same word statistics, with no request to the server per
keystroke. Like with like: a checkpoint with word n-grams (words.json version 2) against
``Predictor(model, tok, words=load_words(dir))`` (the mixture, the session cache and its online EM,
as the app); one without them, or with version-1 statistics the page does not port (the bundled
checkpoints today; "legacy" here), against the model alone (``words=None, cache=False``). Float32
numpy kernels.

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

from chargen.checkpoint import load_checkpoint, resolve_checkpoint
from chargen.faststep import FastStepper
from chargen.ngram import NgramModel, load_words
from chargen.predictor import Predictor
from chargen.resources import browser_dir, bundled
from chargen.wordstats import WordModel
from chargen.words import current_word

pytestmark = [pytest.mark.slow, pytest.mark.browser]
TIMEOUT = 30_000
AUSTEN = (bundled("corpora") / "austen" / "austen-persuasion.txt").read_text(encoding="utf-8")
# prefixes cut from the corpus: inside a word, just after a space, after punctuation
PREFIXES = [AUSTEN[30_000:30_000 + n] for n in (57, 80, 143)] + ["Mr. Knightl", "Emma was "]
# for the mixture: longer texts whose own words recur (the session cache, the weights' online EM)
LONGER = [AUSTEN[40_000:40_000 + n] for n in (190, 231)] + ["Mr. Elliot said that Mr. Elliot was Mr. E"]
MIXTURE = [0.5, 0.35, 0.15]        # weights the test sets, so that every part has its say
# typo'd words: a letter left out, two swapped, a name misspelt, a completion with a slip in it
TYPOS = ["see you tomorow", "I think teh", "Mr. Knightly", "Emma and Mr. Knightl", "I will see you tmorr",
         "She was vrey", "Anne Elliot was not to be pursuaded"]
TYPOS_JS = """async ([text, n]) => { const s = window.chargen.engine.session(); await s.setText(text);
  return {suggest: await s.suggest(n), complete: await s.completeWord(5), correct: await s.correctWord(3),
          fix: [await s.autocorrection("modest"), await s.autocorrection("aggressive")]}; }"""
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


def python_engine(path, words: bool | None = None) -> Predictor:
    """The Python engine the page must equal, set up as the export is: with the checkpoint's
    version-2 n-grams (and the session cache) where it has them, else the character model alone.
    ``words``: what the caller expects it to have (None: either)."""
    model, tok, _ = load_checkpoint(path)
    stepper = FastStepper(model, kernels={"exact": "numpy", "search": "numpy"})
    ngram = load_words(resolve_checkpoint(path))
    has = isinstance(ngram, NgramModel)
    assert words is None or words == has, f"{path}: version-2 word statistics {has}, expected {words}"
    if has:
        return Predictor(model, tok, words=ngram, stepper=stepper)
    return Predictor(model, tok, words=None, cache=False, stepper=stepper)


def with_words(root, name: str, text: str, version: int = 2):
    """The bundled Austen model's weights (linked) with word statistics of ``text``: version 2 (n-grams
    and mixture weights, what ``chargen words`` makes) or the version-1 bigrams of older checkpoints."""
    folder = root / name
    folder.mkdir()
    for f in (bundled("checkpoints") / "austen").iterdir():
        if f.name != "words.json":
            (folder / f.name).symlink_to(f)
    if version == 1:
        WordModel.fit([text]).save(folder)
        return
    ngram = NgramModel.fit([text])
    ngram.mixture = MIXTURE
    ngram.save(folder)


def python_answer(p: Predictor, text: str) -> dict:
    s = p.session(text)
    return {"suggest": s.suggest(3), "complete": s.complete_word(5), "chars": s.next_chars(8)}


def assert_close(page: list, py: list, text: str):
    """Ranked (word, probability) lists: the words in the same order, the probabilities within 1e-3."""
    assert [w for w, _ in page] == [w for w, _ in py], text
    for (_, a), (_, b) in zip(page, py):
        assert a == pytest.approx(b, rel=1e-3, abs=1e-6), text


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
    train_tiny(root, "korean", KOREAN * 12, tokenizer="jamo", steps=60)           # training writes version 2
    with_words(root, "mixed", AUSTEN)
    with_words(root, "legacy", AUSTEN, version=1)
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


def test_version_1_statistics_leave_the_page_the_model_alone(context, server):
    url, root = server
    pg = open_page(context, f"{url}/ondevice/?model=legacy")
    assert pg.evaluate("window.chargen.engine.words") is None
    assert "version-1" in pg.evaluate("window.chargen.engine.manifest.engine.words")
    p = python_engine(root / "legacy", words=False)
    for text in ("Mr. Knightl", LONGER[0]):
        assert_same(pg.evaluate(ENGINE_JS, [text, 3]), python_answer(p, text), text)


def test_the_word_ngram_mixture_in_the_page(context, server):
    url, root = server
    pg = open_page(context, f"{url}/ondevice/?model=mixed")
    assert pg.evaluate("window.chargen.engine.words !== null")
    p, alone = python_engine(root / "mixed", words=True), python_engine(root / "legacy", words=False)   # same weights
    differ = 0
    for text in PREFIXES + LONGER:
        py = python_answer(p, text)
        assert_same(pg.evaluate(ENGINE_JS, [text, 3]), py, text)
        differ += py["complete"] != python_answer(alone, text)["complete"]
    assert differ >= 3, "the word side changed too few rankings for this test to tell"
    # as typed, word by word (the session's cache and weights updated as it goes), the bar agrees too
    text = LONGER[0]
    steps = pg.evaluate("""async (cuts) => { const s = window.chargen.engine.session(), out = [];
      for (const t of cuts) { await s.setText(t); out.push(await s.suggest(3)); } return out; }""",
                        [text[:k] for k in range(40, len(text) + 1, 30)])
    s = p.session()
    for k, got in zip(range(40, len(text) + 1, 30), steps):
        assert got == s.set_text(text[:k]).suggest(3), text[:k]


def test_a_jamo_model_in_the_page(context, server):
    url, root = server
    pg = open_page(context, f"{url}/ondevice/?model=korean")
    assert pg.evaluate("window.chargen.engine.words !== null")     # jamo keys, words composed for display
    p = python_engine(root / "korean", words=True)
    for text in ("영화 정말 재", "배우들 연기가 ", "영화가 너무 좋", "영화 정말 재미있어요. 영화 정말 재"):
        assert_same(pg.evaluate(ENGINE_JS, [text, 3]), python_answer(p, text), text)
    for text in ("배우들 연기가 최고엿어요", "영화 정말 재밋어요", "국민대학교애"):      # a neighbouring key, a Shift missed
        got, py = pg.evaluate(TYPOS_JS, [text, 3]), p.session(text)
        assert got["suggest"] == py.suggest(3), text
        assert_close(got["complete"], py.complete_word(5), text)
        assert_close(got["correct"], py.correct_word(3), text)


def test_the_apps_link_opens_the_default_model(context, server):
    url, _ = server
    pg = open_page(context, f"{url}/ondevice")                 # the Keyboard tab's link, without a model
    assert "model=default" in pg.url
    assert pg.evaluate(ENGINE_JS, ["see you tomor", 3])["suggest"][0] == "tomorrow"


def test_a_fresh_set_up_fetches_the_runtime_on_the_pages_first_request(context, server, tmp_path, monkeypatch):
    """No onnxruntime-web yet (a fresh clone after the README's one set-up command): the page's first
    request has the app fetch it, integrity-checked (here from a local tarball standing for npm's), and
    the page works; offline, the page says why and which command fetches it."""
    import tarfile

    from playwright.sync_api import expect

    from chargen.web import ondevice
    from chargen.web.ort_fetch import FILES, fetch, integrity_of
    url, _ = server
    tgz = tmp_path / "onnxruntime-web.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name in FILES:
            tar.add(browser_dir() / "vendor" / name, f"package/dist/{name}")
    monkeypatch.setenv("CHARGEN_ORT_DIR", str(tmp_path / "vendor"))
    monkeypatch.setattr(ondevice, "_ORT_FAILED", [])
    # offline: nothing listens at the tarball's address
    monkeypatch.setenv("CHARGEN_ORT_URL", "http://127.0.0.1:9/onnxruntime-web.tgz")
    pg = context.new_page()
    pg.goto(f"{url}/ondevice/?model=default")
    expect(pg.locator("#status")).to_contain_text("could not be downloaded", timeout=TIMEOUT)
    expect(pg.locator("#status")).to_contain_text("bash chargen/browser/fetch-ort.sh")
    pg.close()
    monkeypatch.setattr(ondevice, "_ORT_FAILED", [])
    monkeypatch.setattr(ondevice, "fetch", lambda folder: fetch(folder, url=tgz.as_uri(), integrity=integrity_of(tgz)))
    pg = open_page(context, f"{url}/ondevice/?model=default")
    assert (tmp_path / "vendor" / "VERSION").is_file()
    assert pg.evaluate(ENGINE_JS, ["see you tomor", 3])["suggest"][0] == "tomorrow"


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


@pytest.mark.parametrize("model", ["default", "mixed"])
def test_typos_are_forgiven_as_in_python(context, server, model):
    """The typo decoder in the page (typos.js): corrections, autocorrection and completions that
    forgive a slip, as the Python engine's (typos.py) for the same model and word statistics."""
    url, root = server
    pg = open_page(context, f"{url}/ondevice/?model={model}")
    fixed = typos_as_in_python(pg, python_engine(root / model, words=True), TYPOS)
    assert fixed >= 3, "too few of the typo'd words were corrected for this test to tell"


def typos_as_in_python(pg, p, texts) -> int:
    """The page's suggestions, completions, corrections and autocorrection (both levels) for each
    text, word for word as the Python engine ``p``'s; how many texts' first correction changed the word."""
    fixed = 0
    for text in texts:
        got, s = pg.evaluate(TYPOS_JS, [text, 3]), p.session(text)
        assert got["suggest"] == s.suggest(3), text
        assert_close(got["complete"], s.complete_word(5), text)
        assert_close(got["correct"], s.correct_word(3), text)
        assert got["fix"] == [s.autocorrection("modest"), s.autocorrection("aggressive")], text
        fixed += got["correct"][0][0] != current_word(text)
    return fixed


def test_the_page_autocorrects_on_space_and_backspace_undoes_it(context, server):
    url, _ = server
    pg = open_page(context, f"{url}/ondevice/?model=default")
    assert pg.locator("#autocorrect").input_value() == "modest"
    box = pg.locator("#text")
    box.press_sequentially("I think teh")
    pg.wait_for_function("t => document.getElementById('bar').dataset.text === t", arg="I think teh", timeout=TIMEOUT)
    assert pg.locator("#bar button.fix").all_inner_texts()[:1] == ["the"]     # the correction, marked
    box.press("Space")
    pg.wait_for_function("() => document.getElementById('text').value === 'I think the '", timeout=TIMEOUT)
    box.press("Backspace")
    pg.wait_for_function("() => document.getElementById('text').value === 'I think teh'", timeout=TIMEOUT)
    pg.wait_for_function("t => document.getElementById('bar').dataset.text === t", arg="I think teh", timeout=TIMEOUT)
    box.press("Space")                                   # the word restored is kept as typed
    pg.wait_for_function("t => document.getElementById('bar').dataset.text === t", arg="I think teh ", timeout=TIMEOUT)
    assert box.input_value() == "I think teh "
