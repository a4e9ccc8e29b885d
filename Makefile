# Front door of the project. Two commands for a newcomer:
#   make reproduce   create .venv from the pinned lock and run the whole DAG (embedded default)
#   make test        run the test suite in the same environment
#   make reproduce-cpu   the CPU-scale Moving MNIST run (config/cpu.yaml, about 80 min on 2 cores)
#   make reproduce-cpu-action   the action half over 3 splits (config/cpu_action.yaml, about 50 min on 2 cores)
# Also: make bench (performance rows in benchmarks/results/), make lint, make lock, make report.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= 2
CONFIG ?= config/config.yaml
export PATH := $(BIN):$(PATH)

.PHONY: reproduce reproduce-cpu reproduce-cpu-action test bench lint lock report venv clean-results pulled

$(STAMP): envs/requirements.lock pyproject.toml
	@echo ">> creating $(VENV) from envs/requirements.lock with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r envs/requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

reproduce: $(STAMP)
	@$(BIN)/videolstm check --configfile $(CONFIG) > /dev/null  # YAML errors with file and line
	@$(BIN)/videolstm unlock-stale
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete --printshellcmds
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report results/report.html
	@echo ">> done: tables in results/tables/, figures in results/figures/, report results/report.html"

# CPU scale (config/cpu.yaml): Moving MNIST trained for about 80 min on 2 cores, into results-cpu/
reproduce-cpu: $(STAMP)
	@$(BIN)/videolstm check --configfile config/cpu.yaml > /dev/null
	@$(BIN)/videolstm unlock-stale
	@date +%s > .cpu-run-start
	$(BIN)/snakemake --cores $(CORES) --configfile config/cpu.yaml --rerun-incomplete --printshellcmds
	$(BIN)/videolstm run-record --results results-cpu --config config/cpu.yaml --start $$(cat .cpu-run-start)
	@rm -f .cpu-run-start
	@echo ">> done: tables in results-cpu/tables/, figures in results-cpu/figures/, run.json"

# CPU scale, action recognition (config/cpu_action.yaml): the action half over 3 splits, into
# results-cpu/action/
reproduce-cpu-action: $(STAMP)
	@$(BIN)/videolstm check --configfile config/cpu_action.yaml > /dev/null
	@$(BIN)/videolstm unlock-stale
	@date +%s > .cpu-action-run-start
	$(BIN)/snakemake --cores $(CORES) --configfile config/cpu_action.yaml --rerun-incomplete --printshellcmds
	$(BIN)/videolstm run-record --results results-cpu/action --config config/cpu_action.yaml --start $$(cat .cpu-action-run-start)
	@rm -f .cpu-action-run-start
	@echo ">> done: tables in results-cpu/action/tables/, figures in results-cpu/action/figures/, run.json"

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

report: $(STAMP)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report results/report.html

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakemake --lint

# after `git clone` + a DVC remote: fetch the outputs of dvc.lock, check they match it, then mark
# them up to date for Snakemake (restored files get new modification times in arbitrary order, and
# a fresh clone lacks Snakemake's metadata). Missing outputs are not created. PULL= names stages.
PULL ?=
TOUCH ?=
pulled: $(STAMP)
	$(BIN)/dvc pull $(PULL)
	@$(BIN)/dvc status --quiet $(PULL) || { $(BIN)/dvc status $(PULL); \
	  echo ">> the workspace differs from dvc.lock: not marking anything up to date"; exit 1; }
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --touch $(TOUCH)
	@echo ">> pulled outputs are up to date: snakemake -n has nothing to redo for them"

# regenerate the lock from the current .venv (after changing dependencies in pyproject.toml)
lock: $(STAMP)
	{ echo "# Fully pinned environment of the videolstm workflow (pip). Regenerate with: make lock"; \
	  echo "# torch is pinned to 2.13.0: a CPU build on CPU-only machines, the CUDA build from PyPI elsewhere."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^videolstm' | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'; \
	} > envs/requirements.lock
