# Two commands: `make` sets up .venv and runs the pipeline on the demo trial; `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: all install run test test-fast bench report-zip r-reference verify clean

all: run

# The pinned packages are installed by uv (pinned here; several times faster than pip), with pip
# as the fallback when uv cannot be installed. Bytecode is compiled at install (also where
# PYTHONDONTWRITEBYTECODE keeps Python from writing it on import: every job would compile its
# imports again) and matplotlib's font cache is built now, not during the first run.
UV_VERSION := 0.13.9

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	if $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); then \
		$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock && \
		$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . ; \
	else \
		$(BIN)/python -m pip install --quiet -r requirements.lock && \
		$(BIN)/python -m pip install --quiet --no-deps -e . ; \
	fi
	MPLBACKEND=Agg $(BIN)/python -c "import matplotlib.pyplot" && $(BIN)/python -m compileall -q src/pilottrial
	touch $(STAMP)

install: $(STAMP)

# Resumes after Ctrl-C or a killed run: a stale lock is removed and incomplete jobs rerun
# (pilottrial.provenance.resume); finished results are kept.
run: $(STAMP)
	$(BIN)/python -m pilottrial.provenance.resume --cores $(CORES) --quiet rules
	@echo "Report: $$(pwd)/results/$$($(BIN)/python -c 'import yaml; print(yaml.safe_load(open("config/config.yaml"))["trial"]["name"])')/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e and not r"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mmrm.py --out results/bench/mmrm.json
	$(BIN)/python benchmarks/bench_power.py --out results/bench/power.json
	$(BIN)/python benchmarks/bench_pipeline.py --out results/bench/pipeline.json

report-zip: run
	$(BIN)/snakemake --cores 1 --report results/ketamine-ptsd-demo/workflow-report.zip

# Rerun the pipeline from scratch in a temporary directory; compare every output with MANIFEST.sha256.
verify: run
	$(BIN)/python -m pilottrial.provenance.verify

# Regenerate the committed R reference values (needs Rscript with nlme, lme4, lmerTest, emmeans).
r-reference:
	Rscript tests/reference/demo_contrasts.R data/demo/ketamine_ptsd_demo.csv tests/reference/demo_r_contrasts.csv

clean:
	rm -rf results logs .snakemake
