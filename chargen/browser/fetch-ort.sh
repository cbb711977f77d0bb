#!/usr/bin/env bash
# Fetch onnxruntime-web for the browser keyboard into chargen/browser/vendor/ (git-ignored): the one
# pinned npm tarball (33 MB download), checked against its registry integrity, and of it only the three
# files the page loads (the WebAssembly runtime, 14 MB, its loader and the JS API). Fetched, not
# vendored: the runtime would add 14 MB of binary to every clone of the repository. Idempotent;
# .ci/run runs it, and the browser-keyboard tests run it when vendor/ is missing.
set -euo pipefail
VERSION=1.30.0
INTEGRITY="sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
FILES=(ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm)
HERE="$(cd "$(dirname "$0")" && pwd)"
VENDOR="$HERE/vendor"
have=1
for f in "${FILES[@]}"; do [ -f "$VENDOR/$f" ] || have=0; done
if [ "$have" = 1 ] && [ -f "$VENDOR/VERSION" ] && [ "$(cat "$VENDOR/VERSION")" = "$VERSION" ]; then
    exit 0                           # this version's three files are all there
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
TGZ="$TMP/onnxruntime-web-$VERSION.tgz"
if command -v npm >/dev/null; then
    (cd "$TMP" && npm pack "onnxruntime-web@$VERSION" --silent >/dev/null)
else                                 # no npm here: the same tarball from the registry, checked the same way
    curl -fsSL -o "$TGZ" "https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-$VERSION.tgz"
fi
GOT="sha512-$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)"
if [ "$GOT" != "$INTEGRITY" ]; then
    echo "onnxruntime-web $VERSION: integrity mismatch ($GOT)" >&2
    exit 1
fi
tar -xzf "$TGZ" -C "$TMP" "${FILES[@]/#/package/dist/}"
mkdir -p "$VENDOR"
for f in "${FILES[@]}"; do cp "$TMP/package/dist/$f" "$VENDOR/$f"; done
echo "onnxruntime-web $VERSION (MIT licence, Microsoft): npm package files dist/${FILES[*]}" > "$VENDOR/README"
echo "$VERSION" > "$VENDOR/VERSION"
echo "onnxruntime-web $VERSION -> $VENDOR"
