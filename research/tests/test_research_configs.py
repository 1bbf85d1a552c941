"""research/configs/*.toml load (their bases in configs/ resolve), as the shipped configs do."""

from pathlib import Path

import pytest

from tests.test_configs import test_config_loads_with_valid_blur_and_start as check_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_research_config_loads_with_valid_blur_and_start(path):
    check_config(path)
