#!/usr/bin/env bash
# Fetch onnxruntime-web for the browser keyboard into chargen/browser/vendor/ (git-ignored): the one
# pinned npm tarball (33 MB download), checked against its registry integrity, and of it only the three
# files the page loads. The work is chargen/web/ort_fetch.py (standard library only; the app runs the
# same code on the on-device page's first request). Idempotent; .ci/run runs it, and the
# browser-keyboard tests run it when vendor/ is missing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    for c in "$HERE/../../.venv/bin/python" python3 python; do
        if command -v "$c" >/dev/null 2>&1; then PY="$c"; break; fi
    done
fi
[ -n "$PY" ] || { echo "fetch-ort.sh: no python3 found (set PYTHON=...)" >&2; exit 1; }
exec "$PY" "$HERE/../web/ort_fetch.py" "$HERE/vendor"
