"""onnxruntime-web fetched on first use (chargen/web/ort_fetch.py, the /ondevice/ vendor route): a
local fake tarball stands for the npm one, so nothing here needs the network. The tarball's sha512
must match before anything is written; offline, the route answers the exact command to run."""
import io
import socket
import tarfile

import pytest

from chargen.web import ondevice, ort_fetch
from chargen.web.ort_fetch import FILES, FetchError, fetch, integrity_of, present


def fake_tarball(path, extra: bytes = b""):
    with tarfile.open(path, "w:gz") as tar:
        for name in FILES + ("ort.node.min.js",):                  # and a file the page does not load
            data = f"// fake {name}\n".encode() + extra
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/onnxruntime-web.tgz"       # nothing listens there: as offline


def test_fetch_checks_integrity_and_keeps_the_three_files(tmp_path):
    tgz = fake_tarball(tmp_path / "ort.tgz")
    dest = tmp_path / "vendor"
    fetch(dest, url=tgz.as_uri(), integrity=integrity_of(tgz))
    assert present(dest) and sorted(p.name for p in dest.iterdir()) == sorted(FILES + ("README", "VERSION"))
    assert (dest / "ort.wasm.min.js").read_text() == "// fake ort.wasm.min.js\n"
    fetch(dest, url="http://127.0.0.1:1/never-asked.tgz")         # already there: nothing is fetched


def test_a_tarball_that_fails_the_integrity_check_installs_nothing(tmp_path):
    good = fake_tarball(tmp_path / "good.tgz")
    bad = fake_tarball(tmp_path / "bad.tgz", extra=b"tampered")
    dest = tmp_path / "vendor"
    with pytest.raises(FetchError, match="integrity check failed"):
        fetch(dest, url=bad.as_uri(), integrity=integrity_of(good))
    assert not dest.exists() or not any(dest.iterdir())
    with pytest.raises(FetchError, match="integrity check failed"):     # the pinned integrity, not ours
        fetch(dest, url=good.as_uri())


def test_offline_the_message_names_the_command(tmp_path):
    with pytest.raises(FetchError) as e:
        fetch(tmp_path / "vendor", url=closed_port_url())
    assert "bash chargen/browser/fetch-ort.sh" in str(e.value) and "could not be downloaded" in str(e.value)


def test_the_script_and_the_pin_agree():
    script = (ondevice.browser_dir() / "fetch-ort.sh").read_text()
    assert "ort_fetch.py" in script                            # one fetcher: the script runs the module
    assert ort_fetch.URL.endswith(f"onnxruntime-web-{ort_fetch.VERSION}.tgz")
    assert set(FILES) == set(ondevice.VENDOR_FILES)


@pytest.fixture
def route_client(tmp_path, monkeypatch):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from chargen.catalog import Catalog
    (tmp_path / "checkpoints").mkdir()
    app = Starlette()
    ondevice.add_routes(app, Catalog(tmp_path / "checkpoints"))
    monkeypatch.setenv("CHARGEN_ORT_DIR", str(tmp_path / "vendor"))
    monkeypatch.setattr(ondevice, "_ORT_FAILED", [])
    return TestClient(app)


def test_the_route_fetches_on_first_use(route_client, tmp_path, monkeypatch):
    tgz = fake_tarball(tmp_path / "ort.tgz")
    calls = []

    def fake_fetch(folder):
        calls.append(folder)
        return fetch(folder, url=tgz.as_uri(), integrity=integrity_of(tgz))
    monkeypatch.setattr(ondevice, "fetch", fake_fetch)
    r = route_client.get("/ondevice/vendor/ort.wasm.min.js")
    assert r.status_code == 200 and r.text == "// fake ort.wasm.min.js\n"
    assert route_client.get("/ondevice/vendor/ort-wasm-simd-threaded.wasm").status_code == 200
    assert calls == [tmp_path / "vendor"]                      # once: then it is there
    assert route_client.get("/ondevice/vendor/other.js").status_code == 404


def test_the_route_offline_says_what_to_run_and_fails_loudly_on_a_bad_tarball(route_client, tmp_path, monkeypatch):
    monkeypatch.setenv("CHARGEN_ORT_URL", closed_port_url())
    r = route_client.get("/ondevice/vendor/ort.wasm.min.js")
    assert r.status_code == 503 and "bash chargen/browser/fetch-ort.sh" in r.text
    monkeypatch.setattr(ondevice, "_ORT_FAILED", [])
    monkeypatch.setenv("CHARGEN_ORT_URL", fake_tarball(tmp_path / "other.tgz").as_uri())   # not the pinned tarball
    r = route_client.get("/ondevice/vendor/ort.wasm.min.js")
    assert r.status_code == 503 and "integrity check failed" in r.text
    assert not present(tmp_path / "vendor")
