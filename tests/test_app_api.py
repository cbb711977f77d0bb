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
    import app
    from chargen.catalog import Catalog
    from conftest import KOREAN
    root = tmp_path / "checkpoints"
    root.mkdir()
    train_tiny(root, "korean", KOREAN * 40, steps=40, hidden=16)
    catalog, typist = Catalog(root), app.Typist()
    html, typist = app.keyboard_view(catalog, "배우들 연기가 초", "korean", typist)
    assert "최고였어요" in html                    # an input method shows 초 on the way to 최
    html, _ = app.keyboard_view(catalog, "배우들 연기가 ㅊ", "korean", typist)
    assert "최고였어요" in html


def test_a_huge_paste_is_read_from_its_end_and_a_click_loses_nothing(tmp_path):
    import app
    from chargen.catalog import Catalog
    root = tmp_path / "checkpoints"
    root.mkdir()
    train_tiny(root, "english", TEXT, steps=20, hidden=16)
    catalog, typist = Catalog(root), app.Typist()
    big = ENGLISH * 3000 + "All: Spe"                        # half a million characters
    assert app.context_start(big) == app.context_start(big + "a") > 0
    html, typist = app.keyboard_view(catalog, big, "english", typist)
    assert f'data-len="{len(big)}"' in html and "sugg" in html
    assert typist.session.steps <= app.KEYBOARD_CONTEXT        # one pass over the end, not the whole paste
    steps = typist.session.steps
    app.keyboard_view(catalog, big + "a", "english", typist)
    assert typist.session.steps - steps <= 2                   # typing on reuses the cached states
    assert app.press(catalog, "w:Speak", big, "english", typist) == big[:-3] + "Speak "
