# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev

.PHONY: demo test install benchmarks clean

$(BIN)/bertprep: setup.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel setuptools
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(BIN)/bertprep

install: $(BIN)/bertprep

demo: install
	$(BIN)/bertprep demo --output demo_output

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

benchmarks: install
	$(BIN)/python benchmarks/bench_tokenize.py
	$(BIN)/python benchmarks/bench_pretraining.py
	$(BIN)/python benchmarks/confusion_coverage.py

clean:
	rm -rf demo_output build dist *.egg-info
