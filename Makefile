# The two commands a reader needs: `make book` and `make test`.
# Both create .venv from requirements.txt once; with nothing changed, nothing is reinstalled.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
READY  := $(VENV)/.installed
BUILD  := _build

# No TensorFlow C++ log lines (not even "failed call to cuInit" on a machine without a GPU)
# while chapters execute; the chapters set the same default themselves.
export TF_CPP_MIN_LOG_LEVEL := 3
# The book's kernels use the IPython profile in code/booktools/ipython (see its config file):
# what TensorFlow's C++ side prints at start-up stays out of the chapters' outputs.
export IPYTHONDIR := $(CURDIR)/code/booktools/ipython

# The book's machinery (code/booktools) is not installed: it runs from the checkout.
TOOLS  := PYTHONPATH=$(CURDIR)/code $(PY)

.PHONY: book test bench mutants assignments notebooks format setup sync clean help pdf
.DEFAULT_GOAL := help

help:
	@echo "make book   build the HTML site (executes every chapter) into $(BUILD)/html"
	@echo "make test   unit tests, pairing and toc checks, every chapter's reader and student notebooks (one run), and the strict build"
	@echo "make bench  time and peak memory of every chapter against its imports-only floor; fails over budget"
	@echo "           (the executed chapters go into the build's cache: make book then runs none again)"
	@echo "make mutants  run the mutation catalog (tests/mutants/): every mutant must fail its chapter"
	@echo "make sweep  rerun each trained chapter with 20 seeds: every threshold must hold with margin ($(BUILD)/sweeps)"
	@echo "make assignments  student notebooks (answers replaced by stubs, checks kept) into $(BUILD)/assignments"
	@echo "make notebooks  the reader notebooks again from the last build (make book writes them) into $(BUILD)/html/notebooks"
	@echo "make format reformat the chapters' code, code/ and tests/ to 79 characters (ruff)"
	@echo "make sync   re-pair chapters/*.md with chapters/*.ipynb after editing (jupytext --sync)"
	@echo "make pdf    the whole book as one PDF, printed from the site by Chromium, into $(BUILD)/pdf"
	@echo "make clean  remove the build folder (keeps .venv)"

setup: $(READY)

# The stamp is newer than requirements.txt and pyproject.toml once both are installed.
# requirements.txt pins every package, dependencies included, so pip installs them without
# resolving (--no-deps), in two halves side by side with the two largest wheels (PyTorch and
# TensorFlow) in different halves: about 90 s instead of 130-160 s on 2 cores. A resolving
# install of the whole file then adds only what a wheel needs beyond the pins (PyPI's PyTorch
# wheel brings its CUDA packages; here it finds nothing to do, in 8 s), and `pip check` proves
# the installed set complete and consistent.
$(READY): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else "Python 3.11 is required, found %d.%d (set PYTHON=/path/to/python3.11)" % v)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	sed 's/#.*//' requirements.txt | grep '==' | awk -v a=$(VENV)/pins-a.txt -v b=$(VENV)/pins-b.txt \
	  '/^torch==/ {print > a; next} /^tensorflow==/ {print > b; next} {print > (NR % 2 ? a : b)}'
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -r $(VENV)/pins-a.txt & first=$$!; \
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -r $(VENV)/pins-b.txt; second=$$?; \
	wait $$first && test $$second -eq 0
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip check
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(READY)

book: $(READY)
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The site is at $(CURDIR)/$(BUILD)/html/index.html"
	@echo "The reader notebooks (Colab, download) are in $(CURDIR)/$(BUILD)/html/notebooks"

test: $(READY)
	$(PY) -m pytest -n 2 --dist loadscope tests

bench: $(READY)
	$(TOOLS) -m booktools.bench --root . --out $(BUILD)/bench --cache $(BUILD)/.jupyter_cache --jobs 2

# Both quote the values and numbers of the last build (make book), and are rewritten from scratch
# each time, so a chapter removed from _toc.yml leaves no stale notebook. The build itself writes
# the reader notebooks at its end (booktools/notebooks.py is a Sphinx extension in _config.yml).
assignments: $(READY)
	rm -rf $(BUILD)/assignments
	$(TOOLS) -m booktools.assignments $(BUILD)/assignments

notebooks: $(READY)
	rm -rf $(BUILD)/html/notebooks
	$(TOOLS) -m booktools.notebooks --root . --build $(BUILD)

# Each mutant runs its chapter only up to the cell that must fail (see code/booktools/mutants.py).
mutants: $(READY)
	$(TOOLS) -m booktools.mutants --root . --jobs 2 --out $(BUILD)/mutants

# Each chapter in SWEEPS (tests/test_seed_sweeps.py) runs once per seed, two kernels at a time.
.PHONY: sweep
sweep: $(READY)
	$(PY) -m pytest -q -s --sweep -m sweep tests/test_seed_sweeps.py

format: $(READY)
	$(VENV)/bin/ruff format code tests
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/jupytext --pipe "ruff format {}" chapters/*.md
	$(VENV)/bin/jupytext --sync chapters/*.md

sync: $(READY)
	$(VENV)/bin/jupytext --sync chapters/*.md

clean:
	rm -rf $(BUILD)

# --- The site for every reader (issue 19) -----------------------------------------------------

# axe-core, the accessibility engine the browser test injects into every page, pinned in
# package.json / package-lock.json and installed from the npm registry (never from a CDN).
# Without npm the accessibility test is skipped with a hint (under CI it fails).
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $(AXE); \
	else \
	  echo "npm is missing (it comes with Node.js): the accessibility test will be skipped"; \
	fi

test: $(AXE)

# The book as one PDF from the built site: Chromium prints every page in toc order, pypdf joins
# them (code/booktools/pdf.py), then tests/test_pdf.py checks the result.
PDF := $(BUILD)/pdf/outputs-versus-states.pdf
pdf: book
	$(TOOLS) -m booktools.pdf --root . --html $(BUILD)/html --out $(PDF)
	RNNBOOK_PDF=$(PDF) $(PY) -m pytest -q tests/test_pdf.py
	@echo "The PDF is at $(CURDIR)/$(PDF)"
