# Two entry points a fresh machine needs: `make demo` (the main job) and `make test`.
# Both build their own virtual environment in .venv from requirements.lock.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OUT ?= demo-out

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps MAVProxy==1.8.75
	$(PY) -m pip install -q --no-deps -e .
	touch $@

demo: $(VENV)/.installed
	$(PY) -m skyscan demo -o $(OUT)

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) -m benchmarks plan

clean:
	rm -rf $(VENV) $(OUT)
