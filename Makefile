# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
# Re-running is fast: the venv is reinstalled only when pyproject.toml changes, the model is
# prepared once, and the index is re-embedded only when the corpus, settings or code change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: install model index serve test test-fast eval adapter reader bench bench-full bench-scale load browser clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch first, or sentence-transformers pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[ui,eval,dev,milvus,milvus-server]'
	touch $@

install: $(INSTALLED)

model: install
	$(BIN)/rag model

index: model
	$(BIN)/rag build

serve: index
	$(BIN)/rag serve

# Debian's Chromium and CJK fonts for the browser tests, strace for the network audit
# (tests/netaudit.py), as root on CI's fresh machine.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'noto sans cjk' || ! command -v strace >/dev/null; then \
	  echo "installing Debian chromium, fonts-noto-cjk and strace"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk strace >/dev/null; \
	fi

test: index browser
	$(BIN)/python -m pytest -q

# The logic tier: every test that needs no model, browser or Milvus engine, nor builds the wheel
# (`packaging`), run with an empty model cache so that none can lean on a prepared model, on two
# processes (pytest-xdist; under a minute on 2 cores; the tests of an `xdist_group` run on the same
# one). ranx runs uncompiled here (NUMBA_DISABLE_JIT): numba compiling it took 8.5 s of CPU for the
# few toy runs these tests score, and its functions give the same values as Python. `make test` runs
# everything, ranx compiled.
test-fast: install
	@cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && \
	  RAG_CACHE=$$cache NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "not model and not browser and not milvus and not packaging"

eval: index
	$(BIN)/rag-eval gold

# Retrain rag/query_adapter.npz on a public QA benchmark (CMRC 2018 format), checked on another.
BENCH ?= ../shared/bench/cmrc2018
CHECK ?= ../shared/bench/drcd
adapter: model
	$(BIN)/rag-eval adapter $(BENCH) --check $(CHECK)

# Retrain rag/reader.npz (44 min on 2 shared cores); `make model` then exports reader.onnx again.
READER_DATA ?= ../shared/reader/train.jsonl
reader: model
	$(BIN)/rag-eval train-reader --train $(READER_DATA) --out rag/reader.npz
	$(BIN)/rag model

bench: index
	$(BIN)/rag-eval bench

bench-full: index
	$(BIN)/rag-eval bench --million

# Ask, add and remove over archives of 10k, 100k (and with SCALE_ARGS, 1M) chunks on local files, and of
# 100k on a Milvus server started here: eval/reports/scale.*
SCALE_ARGS ?= --size 10000 --size 100000 --milvus-size 100000
bench-scale: index
	$(BIN)/rag-eval scale $(SCALE_ARGS) --dataset $(BENCH) --dataset $(CHECK)

# 200 questions from 20 clients over HTTP while articles are uploaded and removed, then to two more collections while
# the server builds a third (one article a question) (CI: LOAD_ARGS="--questions 40 --clients 8")
LOAD_ARGS ?=
load: index
	$(BIN)/rag-eval load $(LOAD_ARGS)

clean:
	rm -rf index/*/ .pytest_cache
