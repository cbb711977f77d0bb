"""The app's API through gradio_client: /suggest, /generate (streamed), /models; errors as messages.

The app runs in-process on a free port with a temporary checkpoints root holding a tiny model
trained by the fixture (a few seconds)."""
import os
import socket
import tempfile

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(), "chargen-test-gradio"))

import pytest  # noqa: E402
from conftest import ENGLISH  # noqa: E402

pytestmark = pytest.mark.slow

TEXT = ENGLISH * 20


@pytest.fixture(autouse=True, scope="module")
def _keep_torch_threads(keep_torch_threads):
    yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_tiny(root, name: str, text: str, tokenizer: str = "char", steps: int = 150, hidden: int = 48):
    from chargen.model import ModelConfig
    from chargen.train import TrainConfig, train
    corpus = root.parent / f"{name}.txt"
    corpus.write_text(text, encoding="utf-8")
    train(TrainConfig(corpus=[str(corpus)], out=str(root / name), tokenizer=tokenizer, max_steps=steps,
                      max_minutes=0, threads=1, progress=False),
          ModelConfig(num_layers=1, hidden_size=hidden), log=lambda *_: None)


def start_app(root, **kwargs):
    import app
    kwargs.setdefault("reports_dirs", [root.parent / "reports"])     # not the repository's runs/ and docs/
    demo = app.build_demo(root, corpora_dir=root.parent / "corpora", **kwargs)
    _, url, _ = app.serve(demo, "127.0.0.1", free_port(), block=False, quiet=True)
    return demo, url.rstrip("/")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("api") / "checkpoints"
    root.mkdir()
    train_tiny(root, "english", TEXT)
    demo, url = start_app(root)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server, analytics_enabled=False, verbose=False)


def test_api_names(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/suggest", "/generate", "/models"} <= set(endpoints)
    assert len(endpoints) == 3              # the UI's internal events are not part of the API


def test_models(client):
    assert client.predict(api_name="/models") == ["english"]


def test_suggest_completions_and_next_words(client):
    r = client.predict("First Cit", api_name="/suggest")
    assert r["model"] == "english" and r["kind"] == "completions"
    assert 1 <= len(r["suggestions"]) <= 3
    assert all(w.startswith("Cit") for w in r["suggestions"])
    assert "Citizen" in r["suggestions"]
    chars = r["next_chars"]
    assert chars[0][0] == "i" and all(chars[i][1] >= chars[i + 1][1] for i in range(len(chars) - 1))
    r = client.predict("Speak, ", "english", 2, api_name="/suggest")
    assert r["kind"] == "next words" and len(r["suggestions"]) <= 2


def test_api_sessions_are_isolated_and_cheap(server):
    # two callers typing different texts, their calls interleaved, each with the id its first answer
    # returned: each gets its own suggestions, the same as a fresh call on its text would give
    from gradio_client import Client
    from chargen.words import current_word
    a, b = (Client(server, analytics_enabled=False, verbose=False) for _ in range(2))
    text_a, text_b = "First Citizen: you are all res", "All: Speak, spe"
    first_a = a.predict(text_a[:3], api_name="/suggest")
    first_b = b.predict(text_b[:3], api_name="/suggest")
    ids = {first_a["session"], first_b["session"]}
    assert len(ids) == 2 and all(ids)
    for k in range(4, len(text_b) + 1):
        ra = a.predict(text_a[:k], "english", 3, first_a["session"], api_name="/suggest")
        rb = b.predict(text_b[:k], "english", 3, first_b["session"], api_name="/suggest")
        assert ra["session"] == first_a["session"] and rb["session"] == first_b["session"]
        for text, r in ((text_a[:k], ra), (text_b[:k], rb)):
            word = current_word(text)
            assert all(w.startswith(word) for w in r["suggestions"]), (text, r)
    fresh = a.predict(text_b, api_name="/suggest")              # no id: the anonymous pool
    assert _same(fresh, rb)


def _same(r, q) -> bool:
    """The same suggestions and next characters (probabilities to float tolerance: a search may have
    batched its steps differently)."""
    return r["suggestions"] == q["suggestions"] and [c for c, _ in r["next_chars"]] == [c for c, _ in q["next_chars"]] \
        and all(abs(p - s) < 1e-5 for (_, p), (_, s) in zip(r["next_chars"], q["next_chars"]))


def test_an_expired_or_unknown_session_id_still_gets_correct_suggestions(client, server):
    import app  # noqa: F401
    from gradio_client.exceptions import AppError
    expected = client.predict("All: Speak, spe", api_name="/suggest")
    for sid in ("never-seen-before", "x" * 64):
        r = client.predict("All: Speak, spe", "english", 3, sid, api_name="/suggest")
        assert r["session"] == sid and _same(r, expected)
    with pytest.raises(AppError, match="session id"):
        client.predict("All", "english", 3, "no/slashes", api_name="/suggest")


def test_suggest_is_plain_http_too(server):
    # the benchmark's and any non-Python client's way: one POST, one JSON answer, no queue
    import json
    import urllib.request
    body = json.dumps({"data": ["First Cit", "english", 3, "http-client"]}).encode()
    req = urllib.request.Request(server + "/gradio_api/run/suggest", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        r = json.loads(resp.read())["data"][0]
    assert r["session"] == "http-client" and "Citizen" in r["suggestions"]


def test_the_json_lane_answers_as_suggest_does(server, client):
    import json
    import urllib.error
    import urllib.request

    def post(body: bytes):
        req = urllib.request.Request(server + "/keyboard/suggest", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    status, r = post(json.dumps({"text": "All: Speak, spe", "session": "json-lane"}).encode())
    assert status == 200 and r["session"] == "json-lane" and r["model"] == "english"
    assert _same(r, client.predict("All: Speak, spe", api_name="/suggest"))
    # the typo fields: the current word's corrections, and what a space would do at each level
    status, r = post(json.dumps({"text": "All: Speak, speek", "autocorrect": "off"}).encode())
    assert status == 200 and r["autocorrect"] is None and r["corrections"]
    assert all(isinstance(w, str) and 0 <= p <= 1 for w, p in r["corrections"])
    assert post(json.dumps({"text": "All: ", "autocorrect": "aggressive"}).encode())[1]["corrections"] == []
    q = client.predict("All: Speak, speek", "english", 3, api_name="/suggest")
    assert [w for w, _ in q["corrections"]] == [w for w, _ in r["corrections"]] and "autocorrect" in q
    for bad, says in ((b"not json", "Expecting value"), (b'{"text": 3}', "JSON object"),
                      (b'{"text": "a", "autocorrect": "wild"}', "autocorrect level"),
                      (b'{"text": "a", "model": "../x"}', "checkpoint"), (b'{"text": "a", "session": "a/b"}', "session id")):
        status, r = post(bad)
        assert status == 400 and says in r["error"], (bad, r)


def test_the_json_lane_draws_the_keyboard_tab(server):
    """The Keyboard tab's page (chargen/web/keyboard.js) asks the JSON lane with its session id, a
    click as "key" and "panel": the text after the click, the chips as shown, the keyboard's rows
    and shading, the learning status line."""
    import json
    import urllib.error
    import urllib.request

    def post(body: dict):
        req = urllib.request.Request(server + "/keyboard/suggest", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    status, r = post({"text": "First Ci", "session": "tab-1", "key": "k:t", "panel": True, "autocorrect": "off"})
    assert status == 200 and r["text"] == "First Cit" and r["typed"] == "Cit" and r["session"] == "tab-1"
    assert r["suggestions"] and all(w.startswith("Cit") for w in r["suggestions"])
    assert r["rows"][1] == "qwertyuiop" and 0.5 < sum(r["mass"].values()) <= 1.001 and "nothing learned" in r["status"]
    assert len(r["shown"]) == len(r["next_chars"])
    status, r = post({"text": "First Cit", "session": "tab-1", "key": "w:Citizen", "panel": True})
    assert r["text"] == "First Citizen " and r["kind"] == "next words"
    status, r = post({"text": "First ", "session": "tab-1", "key": "k:bksp", "panel": True})
    assert r["text"] == "First"
    status, r = post({"text": "First Cit"})                        # without "panel": the API's answer as before
    assert status == 200 and "rows" not in r and "text" not in r
    for bad, says in (({"text": "a", "session": "t", "browser": "../x"}, "profile id"), ({"text": "a", "key": 3}, "JSON object")):
        status, r = post(bad)
        assert status == 400 and says in r["error"], (bad, r)


def test_suggest_refuses_paths_and_unknown_models(client):
    from gradio_client.exceptions import AppError
    for bad in ("../english", "/etc", "nope"):
        with pytest.raises(AppError, match="checkpoint"):
            client.predict("First", bad, api_name="/suggest")


def test_generate_streams_and_is_reproducible(client):
    job = client.submit("First", 0.8, 0, 1.0, 400, 7, "english", api_name="/generate")
    final = job.result()
    updates = job.outputs()
    assert final.startswith("First") and len(final) > len("First") + 100
    assert len(updates) > 1 and updates[-1] == final                 # streamed, then whole
    assert all(final.startswith(u) for u in updates)                 # each update extends the last
    again = client.predict("First", 0.8, 0, 1.0, 400, 7, "english", api_name="/generate")
    assert again == final
    greedyish = client.predict("All:", 0.8, 1, 1.0, 30, None, "english", api_name="/generate")  # top-k 1
    assert greedyish.startswith("All:") and len(greedyish) > 4


def test_generate_errors_are_messages(client):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="checkpoint"):
        client.predict("x", 0.8, 0, 1.0, 10, 1, "../english", api_name="/generate")


def test_no_model_yet(tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    root = tmp_path / "checkpoints"
    demo, url = start_app(root)
    try:
        c = Client(url, analytics_enabled=False, verbose=False)
        assert c.predict(api_name="/models") == []
        with pytest.raises(AppError, match="No model yet"):
            c.predict("hello", api_name="/suggest")
        with pytest.raises(AppError, match="No model yet"):
            c.predict("hello", 0.8, 0, 1.0, 10, 1, None, api_name="/generate")
    finally:
        demo.close()


def test_keyboard_completes_a_syllable_still_being_composed(tmp_path):
    from chargen.typists import Typist
    from chargen.web.handlers import keyboard_view
    from chargen.catalog import Catalog
    from conftest import KOREAN
    root = tmp_path / "checkpoints"
    root.mkdir()
    train_tiny(root, "korean", KOREAN * 40, steps=40, hidden=16)
    catalog, typist = Catalog(root), Typist()
    html, typist = keyboard_view(catalog, "배우들 연기가 초", "korean", typist)
    assert "최고였어요" in html                    # an input method shows 초 on the way to 최
    html, _ = keyboard_view(catalog, "배우들 연기가 ㅊ", "korean", typist)
    assert "최고였어요" in html


def test_a_huge_paste_is_read_from_its_end_and_a_click_loses_nothing(tmp_path):
    from chargen.typists import KEYBOARD_CONTEXT, Typist, context_start
    from chargen.web.handlers import keyboard_view, press
    from chargen.catalog import Catalog
    root = tmp_path / "checkpoints"
    root.mkdir()
    train_tiny(root, "english", TEXT, steps=20, hidden=16)
    catalog, typist = Catalog(root), Typist()
    big = ENGLISH * 3000 + "All: Spe"                        # half a million characters
    assert context_start(big) == context_start(big + "a") > 0
    html, typist = keyboard_view(catalog, big, "english", typist)
    assert f'data-len="{len(big)}"' in html and "sugg" in html
    assert typist.session.steps <= KEYBOARD_CONTEXT        # one pass over the end, not the whole paste
    steps = typist.session.steps
    keyboard_view(catalog, big + "a", "english", typist)
    assert typist.session.steps - steps <= 2                   # typing on reuses the cached states
    assert press(catalog, "w:Speak", big, "english", typist) == big[:-3] + "Speak "
