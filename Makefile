# The two commands of the README. Each creates .venv and installs fgssl on first use.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test install

demo: $(INSTALLED)
	$(VENV)/bin/fgssl demo

test: $(INSTALLED)
	FGSSL_PROFILE=ci $(PYTHON) -m pytest --nbval-lax --nbval-current-env tests notebooks
	$(VENV)/bin/ruff check .

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e ".[dev,lab]"
	touch $@
