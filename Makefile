# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs filmcrew, renders the README's example request
#   make test   creates .venv if needed and runs the whole suite (what .ci/run calls)

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
DEMO_REQUEST ?= A glass of water is knocked off a table and shatters on the floor; slow-motion replay of the fall; tense strings.
DEMO_DIR ?= runs/demo

.PHONY: venv demo test lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/filmcrew run "$(DEMO_REQUEST)" --run-dir $(DEMO_DIR) --yes

test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	$(PY) benchmarks/demo_nodes.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
