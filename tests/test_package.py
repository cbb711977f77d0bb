"""chargen as a package: a wheel built from this checkout, installed into a fresh virtual environment,
runs the ``chargen`` command from a folder outside the repository on the default model it carries.

The fresh environment gets the wheel alone (``--no-deps``, built without build isolation by the
hatchling of requirements.txt): torch and the rest come from this environment through a path file,
so nothing is downloaded and the test takes seconds, yet ``chargen`` itself (its code, the bundled
checkpoints and corpora) is the installed copy, not the checkout's."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(args, cwd, env=None, timeout=300) -> str:
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh venv, a work folder outside the repository, the environment to run in)."""
    tmp = tmp_path_factory.mktemp("package")
    run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "--quiet",
         "--disable-pip-version-check", "-w", str(tmp / "dist")], cwd=tmp)
    wheel = next((tmp / "dist").glob("chargen-*.whl"))
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    py = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--quiet",
         "--disable-pip-version-check", str(wheel)], cwd=tmp)
    # this environment's packages (torch, numpy, ...) after the venv's own: the wheel's chargen comes first
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).strip())
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "outer_env.pth").write_text("\n".join(paths) + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return venv, work, env


def test_the_wheel_carries_the_package_the_command_and_the_bundled_files(installed):
    venv, work, env = installed
    where = run([str(venv / "bin" / "python"), "-c",
                 "import chargen, chargen.cli as c, chargen.resources as r; "
                 "print(chargen.__file__); print(c.DEFAULT_CHECKPOINT); print(r.bundled('corpora')); print(r.browser_dir())"],
                cwd=work, env=env)
    package, default, corpora, page = map(Path, where.split())
    assert venv in package.parents, f"chargen was imported from {package}, not the fresh venv"
    assert venv in default.parents and (default / "config.json").is_file()
    assert (corpora / "austen" / "austen-emma.txt").is_file()
    assert venv in page.parents and all((page / f).is_file() for f in ("index.html", "words.js", "engine.js", "page.js"))
    assert (venv / "bin" / "chargen").is_file()


def test_chargen_info_and_suggest_run_outside_the_repository(installed):
    venv, work, env = installed
    info = run(["chargen", "info"], cwd=work, env=env)
    assert "2 x 256 LSTM" in info and "tokenizer: char" in info
    out = run(["chargen", "suggest", "--text", "see you tomor"], cwd=work, env=env)
    assert "tomorrow" in out
    out = run(["chargen", "suggest", "--checkpoint", "austen", "--text", "Mr. Knightl"], cwd=work, env=env)
    assert "Knightley" in out
    help_text = run(["chargen", "--help"], cwd=work, env=env)
    for command in ("train", "sample", "suggest", "eval", "export", "words", "info", "app"):
        assert command in help_text
    app_help = run(["chargen", "app", "--help"], cwd=work, env=env)      # the web app's own flags
    assert "--checkpoints" in app_help and "--max-upload-mb" in app_help
