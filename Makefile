# One-command set-up on a fresh machine (Python 3.11 on PATH as python3.11 or python3).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch. Installed before the package so that the package's "torch>=2.3" is
# already met and pip does not fetch a CUDA build. Override on a GPU machine: make TORCH=torch
TORCH  ?= torch==2.13.0

.PHONY: setup test test-all demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test]"
	@# Fashion-MNIST (real, 70 000 images) from Debian where we may install it; optional.
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ! -d /usr/share/datasets/fashion-mnist ]; then \
	    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	    echo "note: could not apt-get install dataset-fashion-mnist (Fashion-MNIST runs will say how to get it)"; fi
	@# English text for the character-level Transformer (fortune-cookie files); optional.
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ! -d /usr/share/games/fortunes ]; then \
	    apt-get install -y -q fortunes-min >/dev/null 2>&1 || \
	    echo "note: could not apt-get install fortunes-min (text runs will say how to get it)"; fi
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q --runslow

demo: setup
	$(VENV)/bin/synapse-madam demo

bench: setup
	$(PY) benchmarks/optimizer_step.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
