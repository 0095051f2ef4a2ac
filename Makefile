# make book : set up .venv (if needed) and build the executed HTML book into _build/html,
#             then print it to _build/html/_downloads/resmix-book.pdf (needs Chromium; skipped without)
# make test : set up .venv (if needed) and run the unit tests and every notebook (nbmake)
# make bench: per-run training speed of cohorts against separate models (benchmarks/bench_cohort.py, a few minutes)
# make bench-model: resmix's model against torch.nn.TransformerEncoder (benchmarks/bench_train.py)
# make install-cell: write the chapters' install cell from _config.yml, then pair the notebooks
# make gpu-wheels: download the wheels tools/gpu_check.sh needs on a GPU machine into .whl/
# make corpora: build (or verify) the real corpora's caches, timed; needs the Debian packages
#               asterisk-moh-opsound-wav, libfluidsynth3 and fluid-soundfont-gm (.ci/run installs them)
# make release VERSION=x.y.z [DRY_RUN=1]: check, bump, build the wheel, changelog, commit, tag v<version>
# make plain-pip: the README's plain-pip path in a fresh clone and venv (CI runs it after make test)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup book test bench bench-model install-cell gpu-wheels corpora release plain-pip clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -c "from resmix._mkl import install; print(install())"
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) tools/book_pdf.py

# The notebooks store their training runs under book/_output/results, so the book build
# after nbmake reuses them instead of training everything twice. The browser tests then
# open every built page in headless Chromium (skipped, with a message, without Chromium).
# nbmake's cell timeout and kernel come from pyproject.toml, as for `pytest --nbmake book/`.
test: setup
	$(PY) -m pytest tests/ --ignore=tests/browser
	$(PY) -m pytest --nbmake --durations=0 book/
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) tools/book_pdf.py
	$(PY) -m pytest -rs tests/browser

bench: setup
	$(PY) benchmarks/bench_cohort.py

bench-model: setup
	$(PY) benchmarks/bench_train.py --profiles quick

install-cell: setup
	$(PY) tools/install_cell.py
	$(VENV)/bin/jupytext --sync book/*.ipynb

gpu-wheels: setup
	PYTHON=$(PY) tools/gpu_wheels.sh

corpora: setup
	$(PY) tools/build_corpora.py
release: setup
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z [DRY_RUN=1]"; exit 2; }
	$(PY) tools/release.py $(VERSION) $(if $(DRY_RUN),--dry-run)

plain-pip:
	tools/plain_pip_check.sh

clean:
	rm -rf _build book/_output results dist
