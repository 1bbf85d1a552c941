# The two README commands: `make demo` (set up, run the main job) and `make test` (set up, run the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-slow clean

setup: $(STAMP)

# constraints.txt pins torch to the local CPU build so pip never pulls CUDA wheels.
$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
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

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo_output
