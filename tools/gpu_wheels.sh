#!/usr/bin/env bash
# Download, here, the wheels that tools/gpu_check.sh needs on a GPU machine without network
# (Python 3.12, x86-64, torch/numpy/pandas/matplotlib/sympy/tqdm/pytest/scipy already there):
# soundfile, the nbmake/Jupyter stack, and myst-nb for the chapters' glue. Versions are the
# ones of the Python running this script (the development venv), so both sides agree.
#
#   tools/gpu_wheels.sh [DIR]      # default DIR: .whl (git-ignored; at most 64 MiB travel)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.whl}
PY=${PYTHON:-python3}
LIMIT_MIB=64
# Missing on the GPU image (see the device notes); everything else it needs is there.
# myst-nb comes without its Sphinx dependencies: the chapters only call its glue(), which
# needs IPython, nbformat and docutils.
PACKAGES=(soundfile cffi pycparser
          nbmake nbclient nbformat jupyter_client jupyter_core ipykernel ipython comm debugpy pyzmq tornado
          nest_asyncio nest-asyncio2 matplotlib-inline traitlets fastjsonschema jsonschema jsonschema-specifications
          referencing rpds-py platformdirs decorator jedi parso pexpect ptyprocess prompt_toolkit wcwidth
          stack_data asttokens executing pure_eval ipython_pygments_lexers
          myst-nb docutils ipywidgets widgetsnbextension jupyterlab_widgets)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
           manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64)
specs=()
for p in "${PACKAGES[@]}"; do
  v=$("$PY" -c "import importlib.metadata as m, sys
try: print(m.version(sys.argv[1]))
except m.PackageNotFoundError: pass" "$p")
  specs+=("$p${v:+==$v}")
done
mkdir -p "$DIR"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  $(printf -- '--platform %s ' "${PLATFORMS[@]}") -d "$DIR" "${specs[@]}"
size=$(du -sm "$DIR" | cut -f1)
echo "$(ls "$DIR"/*.whl | wc -l) wheels, ${size} MiB in $DIR"
if [ "$size" -gt "$LIMIT_MIB" ]; then
  echo "too large: at most ${LIMIT_MIB} MiB travel with the working tree" >&2
  exit 1
fi
