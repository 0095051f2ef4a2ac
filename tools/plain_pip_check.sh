#!/usr/bin/env bash
# The README's plain-pip path as a new user types it: a fresh clone of this repository's HEAD
# (commit first: uncommitted changes are not in it), a fresh venv, the README's install lines
# run as written, then `python -m resmix --help` and `pytest --nbmake book/01_leaky.ipynb`
# as typed (nbmake's timeout and kernel come from pyproject.toml). The README's lines that
# run every test and notebook are left to `make test`, which runs them in .venv; chapter 1
# trains nothing, so this adds minutes (mostly pip's), not another half hour.
#
#   tools/plain_pip_check.sh          # = make plain-pip; .ci/run runs it after make test
#   tools/plain_pip_check.sh --plan   # the commands it would run, from this checkout's README
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
readme_lines() {  # the bash block under "### Plain pip" in README.md
  awk '/^### Plain pip/{f=1} f&&/^```bash/{b=1;next} b&&/^```/{exit} b' "$1"
}
if [ "${1:-}" = --plan ]; then
  readme_lines "$SRC/README.md" | sed -e 's/^\(pytest\|jupyter-book\)/(left to make test) &/'
  echo "python -m resmix --help"; echo "pytest --nbmake book/01_leaky.ipynb"; exit 0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/resmix-plain-pip.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
git clone -q "$SRC" "$WORK/resmix"
cd "$WORK/resmix"
echo "plain-pip check in $WORK/resmix ($(git log -1 --format=%h))"
mapfile -t LINES < <(readme_lines README.md)
[ "${#LINES[@]}" -ge 2 ] || { echo "README.md has no bash block under '### Plain pip'" >&2; exit 1; }
for line in "${LINES[@]}"; do
  case "$line" in
    pytest*|jupyter-book*) echo "(left to make test: $line)" ;;
    *) echo "+ $line"; eval "$line" ;;
  esac
done
[ "$(command -v python)" = "$WORK/resmix/.venv/bin/python" ] || { echo "the README's lines did not activate .venv" >&2; exit 1; }
echo "+ python -m resmix --help"; python -m resmix --help >/dev/null
echo "+ pytest --nbmake book/01_leaky.ipynb"; pytest --nbmake book/01_leaky.ipynb
echo "plain-pip check passed"
