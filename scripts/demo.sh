#!/usr/bin/env bash
# The README's demo: set up, start the lab, run `fixer check` on it (text on screen, HTML and JSON
# reports written here), stop the lab. Exit status is fixer's (1 or 3 are expected: the lab is broken
# on purpose).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(pwd)"
bash "$repo/scripts/setup.sh"
cd "$repo"
exec python3 scripts/demo.py --report-dir "$out"
