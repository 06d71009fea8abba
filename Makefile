# Developer entry points. `make test` is the command CI runs (see .ci/run and README).
PYTHON ?= python3
PYTEST ?= pytest

.PHONY: install proto proto-check lint typecheck test quick bench

install:            ## the package with test, dev and bench extras (editable)
	$(PYTHON) -m pip install -e '.[dev,bench]'

proto:              ## regenerate the protobuf/gRPC code (never edit *_pb2* by hand)
	$(PYTHON) proto/generate.py

proto-check:
	$(PYTHON) proto/generate.py --check

lint:
	ruff check .

typecheck:          ## mypy on the core: the state machine and Raft
	mypy controller raft

test: proto-check lint typecheck   ## everything CI checks, then the full suite
	$(PYTEST)

quick:              ## the fast subset: no slow and no root tests
	$(PYTEST) -m "not slow and not root"

bench:              ## every benchmark at its reduced size; JSON under perf/results/
	mkdir -p perf/results
	for b in perf/bench_*.py; do $(PYTHON) $$b --quick --json perf/results/$$(basename $$b .py).json || exit 1; done
