"""The README and docs/ stay true: their links resolve and their runnable blocks run.

Links: every relative link (`[text](target)` or `![alt](target)`) in README.md and docs/*.md must
name a file or folder that exists, and every `#anchor` (in the page, or `page.md#anchor`) must be
the GitHub-style anchor of one of that page's headings (lower case, punctuation other than hyphens
and underscores dropped, spaces as hyphens, a repeated heading getting -1, -2, ...).

Runnable blocks: a fenced code block whose info string is `bash runnable` or `python runnable`
(e.g. a line "```bash runnable") is extracted and run, and must exit 0 within RUN_TIMEOUT seconds:
bash blocks with `bash -e` from the repository root, with this interpreter's folder first on PATH
(so `python` is the test's Python); Python blocks as a script of `sys.executable`, from the
repository root. Only the exit status is checked, never the output (the bundled default model may
change; blocks that care name their model, e.g. `--checkpoint austen`). Mark only blocks that take
a few seconds, need no network, no ../shared, no GPU and start no server, and that write only
under a temporary folder.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
RUN_TIMEOUT = 120
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


def _blocks(text):
    """(info string, code, line number) of each fenced block; the text outside blocks, as lines."""
    blocks, prose, fence, info, code, start = [], [], None, "", [], 0
    for i, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence, info, code, start = m.group(1), m.group(2).strip(), [], i
        elif fence is not None and line.startswith(fence) and not line[len(fence):].strip():
            blocks.append((info, "\n".join(code) + "\n", start))
            fence = None
        elif fence is not None:
            code.append(line)
        else:
            prose.append(line)
    assert fence is None, "a code block is never closed"
    return blocks, prose


def anchor(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text):
    seen, out = {}, set()
    for line in _blocks(text)[1]:
        m = re.match(r"#{1,6} +(.*?) *#* *$", line)
        if m:
            a = anchor(m.group(1))
            n = seen.get(a, 0)
            seen[a] = n + 1
            out.add(a if n == 0 else f"{a}-{n}")
    return out


def broken_links(page, text):
    """The relative links of one page that name no file or no heading."""
    bad = []
    prose = "\n".join(_blocks(text)[1])
    for target in LINK.findall(prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):          # http:, https:, mailto:
            continue
        path, _, frag = target.partition("#")
        dest = (page.parent / path).resolve()
        if path and not dest.exists():
            bad.append(f"{target}: no such file")
        elif frag and not path:
            if frag not in anchors(text):
                bad.append(f"{target}: no such heading")
        elif frag and (dest.suffix != ".md" or frag not in anchors(dest.read_text(encoding="utf-8"))):
            bad.append(f"{target}: no such heading")
    return bad


def runnable_blocks():
    out = []
    for page in PAGES:
        for info, code, line in _blocks(page.read_text(encoding="utf-8"))[0]:
            words = info.split()
            if len(words) >= 2 and words[0] in ("bash", "python") and "runnable" in words[1:]:
                out.append(pytest.param(words[0], code, id=f"{page.relative_to(ROOT)}:{line}"))
    return out


def test_every_relative_link_and_anchor_resolves():
    bad = {str(p.relative_to(ROOT)): broken_links(p, p.read_text(encoding="utf-8")) for p in PAGES}
    assert not {k: v for k, v in bad.items() if v}, bad


def test_the_link_check_can_fail(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## A section: `here`\n")
    page = tmp_path / "page.md"
    text = ("# Title\n\n[ok](#title) [ok](other.md#a-section-here) [ok](other.md)\n"
            "[gone](missing.md) [no heading](#nowhere) [no heading](other.md#a-section)\n"
            "```\n[in code](ignored.md)\n```\n")
    assert broken_links(page, text) == ["missing.md: no such file", "#nowhere: no such heading",
                                        "other.md#a-section: no such heading"]


def test_anchors_follow_github():
    assert anchor("Keystroke savings (`python -m chargen eval --checkpoint DIR --ksr`)") == \
        "keystroke-savings-python--m-chargen-eval---checkpoint-dir---ksr"
    assert anchor("Training on a GPU (`bench/train_speed.py`)") == "training-on-a-gpu-benchtrain_speedpy"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_the_docs_have_runnable_blocks_on_several_pages():
    blocks = runnable_blocks()
    pages = {b.id.split(":")[0] for b in blocks}
    assert len(blocks) >= 6 and len(pages) >= 3, [b.id for b in blocks]


@pytest.mark.slow
@pytest.mark.parametrize("lang,code", runnable_blocks())
def test_runnable_block(lang, code, tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    if lang == "bash":
        cmd = ["bash", "-e", "-c", code]
    else:
        script = tmp_path / "block.py"
        script.write_text(code, encoding="utf-8")
        cmd = [sys.executable, str(script)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"exit {r.returncode}\n--- block:\n{code}--- stdout:\n{r.stdout[-3000:]}" \
                              f"\n--- stderr:\n{r.stderr[-3000:]}"
