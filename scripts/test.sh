#!/usr/bin/env bash
# The README's test command: set up a fresh machine, then run every test (unit and lab), the type
# checker and the linter. Fails when any of them fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check fixer tests bench
python3 -m mypy
python3 -m pytest -q -p no:cacheprovider "$@"
