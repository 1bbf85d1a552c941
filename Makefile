# The two README commands: `make demo` (set up, run the main job) and `make test` (set up, run the tests).
# `make wheel` builds dist/deblur_edge-<version>-py3-none-any.whl (the package is not on the index yet).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A torch index to install torch from first, e.g. https://download.pytorch.org/whl/cpu for the CPU build: pip's
# default index serves torch built with CUDA on Linux (GBs). constraints.txt pins the version either way.
TORCH_INDEX ?=
# For `make wheel`: this checkout's venv when it exists, else python3.
WHEEL_PY := $(if $(wildcard $(PY)),$(PY),python3)

.PHONY: setup demo test test-slow wheel clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install -q -c constraints.txt torch --index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/deblur-demo sample demo_output
	$(VENV)/bin/deblur-run demo_output/blurry.mp4 --compare -o demo_output/side_by_side.mp4 --overwrite
	$(VENV)/bin/deblur-demo score demo_output

test: setup
	$(VENV)/bin/pytest -q -m "not slow"

test-slow: setup
	$(VENV)/bin/pytest -q -m slow || [ $$? -eq 5 ]  # exit 5: no slow test selected

# python -m build where the build package is installed, else pip (both build in an isolated environment).
wheel:
	@if $(WHEEL_PY) -I -c "import build.__main__" 2>/dev/null; then $(WHEEL_PY) -m build --wheel --outdir dist .; \
	else $(WHEEL_PY) -m pip wheel --no-deps -w dist .; fi
	@ls dist/deblur_edge-*.whl

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache demo_output
