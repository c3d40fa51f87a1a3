# alsreco developer entry points.
#
#   make venv              .venv with requirements-dev.txt and the package (editable)
#   make demo              train on the bundled sample, serve it, print recommendations
#   make test              lint (ruff), the docs site (strict), then every tier: unit, integration, container
#   make docs              the documentation site (MkDocs, strict) from docs/ + benchmarks/RESULTS.md -> site/
#   make test-unit | test-integration | test-container | lint
#   make web               the storefront page + local API front on 127.0.0.1 (no AWS): http://127.0.0.1:8000/
#   make synth             synthesize the CDK stack offline (infra/) into cdk.out, cfn-lint it
#   (system packages - Java 17, nginx, and for `make test` Docker, wrk, chromium, ... - are
#    installed with apt-get when run as root or with passwordless sudo: scripts/system-deps.sh)
#   make image             docker build -t alsreco:latest .
#   make bench             quality, training speed, serving load, catalogue, live events -> benchmarks/RESULTS.md
#   make bench-scale       2 hosts vs 1 at --memory 3g on 40M generated lines (Docker; hours)
#   make bench-events      POST /events latency and freshness through the local chain (moto; ~3 min)
#   make bench-catalog     new-product placement quality, filter cost, catalogue memory (~5 min)
#
# Variables: PYTHON (interpreter for the venv, default python3), PYTEST_ARGS (extra
# pytest arguments, e.g. PYTEST_ARGS="-x -k serve"), IMAGE (default alsreco:latest).

PYTHON ?= python3
VENV ?= .venv
IMAGE ?= alsreco:latest
PYTEST_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.alsreco-installed
CDS_STAMP := $(VENV)/.alsreco-cds

.DEFAULT_GOAL := help
.PHONY: help venv system-deps system-deps-test check-python check-java demo test lint docs test-unit test-integration \
        test-container image clean

help:
	@sed -n '3,19p' Makefile | sed 's/^# \{0,1\}//'

system-deps:
	@bash scripts/system-deps.sh demo

system-deps-test:
	@bash scripts/system-deps.sh test

# --- environment ---------------------------------------------------------------------
check-python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found. Python 3.10+ is needed:"; \
	  echo "  Debian/Ubuntu: sudo apt-get install -y python3 python3-venv"; \
	  echo "  or point PYTHON at one: make venv PYTHON=python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
	  echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); 3.10+ is needed."; \
	  echo "  Debian 12 / Ubuntu 22.04+: sudo apt-get install -y python3 python3-venv"; \
	  echo "  or point PYTHON at a newer one: make venv PYTHON=python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "error: $(PYTHON) cannot create virtual environments (the venv/ensurepip module is missing)."; \
	  echo "  Debian/Ubuntu: sudo apt-get install -y python3-venv"; exit 1; }

check-java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "error: java not found. Spark (used by train) needs a Java 17+ runtime:"; \
	  echo "  Debian 12 / Ubuntu 22.04+: sudo apt-get install -y openjdk-17-jre-headless"; exit 1; }
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -1); \
	 major=$${v%% *}; [ "$$major" = "1" ] && major=$${v##* }; \
	 if [ -z "$$major" ] || [ "$$major" -lt 17 ]; then \
	   echo "error: java is version $${major:-unknown} ($$(java -version 2>&1 | head -1)); Spark 3.5 here needs 17+:"; \
	   echo "  Debian 12 / Ubuntu 22.04+: sudo apt-get install -y openjdk-17-jre-headless"; \
	   echo "  (and make it the default: sudo update-alternatives --config java)"; exit 1; fi

venv: $(STAMP) $(CDS_STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-bench.txt pyproject.toml
	@$(MAKE) --no-print-directory system-deps check-python check-java
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	@touch $@
	@echo "venv ready: $(VENV) ($$($(BIN)/python --version))"

# The driver JVM's class-data archive (alsreco/train/spark/cds.py; ~1 min, once): `train` starts
# ~5 s sooner with it and works without it, so a failure here is a warning.
$(CDS_STAMP): $(STAMP) alsreco/train/warmup.py alsreco/train/spark/cds.py
	@$(BIN)/python -m alsreco.train.warmup > $(VENV)/warmup.log 2>&1 \
	  && echo "Spark class-data archive built ($$(tail -1 $(VENV)/warmup.log | sed 's/.*INFO //'))" \
	  || echo "warning: no Spark class-data archive (train still works, its JVM starts slower): see $(VENV)/warmup.log"
	@touch $@

# --- demo ----------------------------------------------------------------------------
demo: system-deps venv
	$(BIN)/python scripts/demo.py

# --- tests ---------------------------------------------------------------------------
test: system-deps-test venv lint docs
	$(BIN)/pytest tests $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .

docs: venv
	$(BIN)/python scripts/build_docs.py

test-unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: venv
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

test-container: venv
	$(BIN)/pytest tests/container $(PYTEST_ARGS)

# --- benchmarks (`make bench`; not part of `make test`, whose smoke run is
#     tests/integration/test_bench_smoke.py) -------------------------------------------
#   BENCH_SIZES=100k,1m make bench-train   (default sample,100k,1m,10m; 10m takes ~15 min)
#   make bench-scale: the image on 2 hosts (algo-1/algo-2) and on 1, --memory 3g each, BENCH_SCALE_LINES
#   generated lines (default 40,000,000: hours; needs Docker; not part of `make bench`)
BENCH_SIZES ?= sample,100k,1m,10m
.PHONY: bench bench-deps bench-quality bench-train bench-serve bench-scale bench-catalog bench-events bench-report

bench-deps: venv
	@bash scripts/system-deps.sh bench

bench: bench-deps
	$(BIN)/python -m benchmarks.quality
	$(BIN)/python -m benchmarks.tune_scale
	BENCH_SIZES=$(BENCH_SIZES) $(BIN)/python -m benchmarks.train_speed
	$(BIN)/python -m benchmarks.serve_load
	$(BIN)/python -m benchmarks.serve_profile
	$(BIN)/python -m benchmarks.serve_startup
	$(BIN)/python -m benchmarks.serve_mme
	$(BIN)/python -m benchmarks.catalog
	$(BIN)/python -m benchmarks.events_live
	$(BIN)/python -m benchmarks.report

bench-quality: bench-deps
	$(BIN)/python -m benchmarks.quality
	$(BIN)/python -m benchmarks.tune_scale
	$(BIN)/python -m benchmarks.report

bench-train: bench-deps
	BENCH_SIZES=$(BENCH_SIZES) $(BIN)/python -m benchmarks.train_speed
	$(BIN)/python -m benchmarks.report

# bench-serve: serving under load and its goals, a worker profile, then (Docker) start-up and multi-model endpoints
bench-serve: bench-deps
	$(BIN)/python -m benchmarks.serve_load
	$(BIN)/python -m benchmarks.serve_profile
	$(BIN)/python -m benchmarks.serve_startup
	$(BIN)/python -m benchmarks.serve_mme
	$(BIN)/python -m benchmarks.report

bench-scale: bench-deps
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.report

bench-catalog: bench-deps
	$(BIN)/python -m benchmarks.catalog

bench-events: bench-deps
	$(BIN)/python -m benchmarks.events_live
	$(BIN)/python -m benchmarks.report

bench-report: venv
	$(BIN)/python -m benchmarks.report

# --- storefront (api/, web/, infra/) --------------------------------------------------
WEB_PORT ?= 8000
API_PORT ?= 8765
.PHONY: web web-screenshot synth test-storefront

web: system-deps venv
	$(BIN)/python scripts/web_front.py --web-port $(WEB_PORT) --api-port $(API_PORT)

web-screenshot: system-deps-test venv
	ALSRECO_SCREENSHOT=docs/storefront.png $(BIN)/pytest tests/web/test_page.py $(PYTEST_ARGS)

synth: venv
	$(BIN)/python -m infra.app --outdir cdk.out
	$(BIN)/cfn-lint cdk.out/AlsrecoStorefront.template.json

test-storefront: venv
	$(BIN)/pytest tests/api tests/web tests/infra $(PYTEST_ARGS)

# --- image ---------------------------------------------------------------------------
image:
	docker build -t $(IMAGE) .

clean:
	rm -rf .pytest_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
