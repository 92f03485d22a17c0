# refclip_mm: the two commands of the README, plus their parts.
#   make demo   set up .venv/ if needed, then run the main job on the embedded default
#   make test   set up .venv/ if needed, then run the test suite
#   make lint   flake8 and isort --check-only with the settings in setup.cfg
#   make demo DEMO_ARGS=--toyworld   the demo on a CLIP pre-trained on the ToyWorld (quick variant)
#   make demo DEMO_ARGS="--tower siglip2"   the demo on a tiny SigLIP 2 CLIP (work_dirs/demo-siglip2)
# Setting up is idempotent: on a ready machine it only checks stamps.

VENV        ?= .venv
PY          := $(VENV)/bin/python
STACK_STAMP := $(VENV)/.stack-ready
PKG_STAMP   := $(VENV)/.refclip_mm-installed
LINT_STAMP  := $(VENV)/.lint-ready
LINT_PATHS  := refclip_mm tools tests benchmarks setup.py
PKG_SOURCES := $(shell find refclip_mm configs tools -type f \( -name '*.py' -o -name '*.sh' -o -name '*.txt' -o -name '*.json' \) -not -path '*/.mim/*' -not -path '*/__pycache__/*' 2>/dev/null)
PYTEST_ARGS ?=
# Test workers (pytest-xdist): one per core, at most 4; a module's tests stay on one worker so
# its module fixtures (e.g. the ToyWorld run) are built once.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
DEMO_ARGS ?=

.PHONY: install demo test lint benchmark toyworld toyworld-quick clean-venv

# The pinned OpenMMLab stack (torch, mmcv built with ops and cached, mmdet, mmseg, ...).
$(STACK_STAMP): tools/setup_env.sh requirements.txt
	VENV=$(VENV) tools/setup_env.sh
	touch $@

# refclip_mm itself, as a regular install so that `mim` finds refclip_mm/.mim/{configs,tools};
# re-installed (seconds, no dependencies) whenever a source file changed.
$(PKG_STAMP): $(STACK_STAMP) $(PKG_SOURCES) setup.py pyproject.toml
	@echo "[setup] installing refclip_mm into $(VENV)"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall . \
		>$(VENV)/pip-install.log 2>&1 || { cat $(VENV)/pip-install.log; exit 1; }
	@rm -rf build refclip_mm.egg-info
	$(PY) -c "import refclip_mm, os; print('[setup] refclip_mm', refclip_mm.__version__, 'ready')"
	touch $@

install: $(PKG_STAMP)

demo: install
	$(PY) tools/demo.py $(DEMO_ARGS)

test: install
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

$(LINT_STAMP): $(STACK_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check flake8==7.3.0 isort==5.13.2
	touch $@

lint: $(LINT_STAMP)
	$(PY) -m flake8 $(LINT_PATHS) configs
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	@echo "[lint] flake8 and isort: clean"

# ToyWorld (docs/toyworld.md): the method's claims decided on a generated world, 5 seeds
# with pre-registered decision rules, or its one-seed quick variant (<= 15 minutes).
toyworld: install
	$(PY) tools/toyworld.py

toyworld-quick: install
	$(PY) tools/toyworld.py --quick

benchmark: install
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean-venv:
	rm -rf $(VENV)
