"""The shipped training configs (configs/*.toml) load, and what they start from exists or is a run's output."""

from pathlib import Path

import pytest

from deblur.model.growth import load_initial_weights
from deblur.train.data import BlurSettings
from deblur.train.recipes import load_train_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))


def test_there_are_configs():
    assert {path.name for path in CONFIGS} >= {"bundled-lite.toml", "bundled-lite-stage1.toml",
                                               "bundled-lite-stage2.toml", "gpu-lite.toml", "gpu-paper.toml",
                                               "cpu-paper.toml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_config_loads_with_valid_blur_and_start(path):
    config = load_train_config(str(path))
    # synthetic pairs made on the fly, or a pool of them written by deblur-synth-pool (validated on photos, or in
    # the GoPro layout on held-out pairs the pool tool wrote beside it)
    assert config.data_kind in {"synthetic", "pairs", "gopro"} and config.loss in {"mse+frlf", "l1+frlf"}  # always FRLF
    if config.data_kind != "synthetic":
        assert "deblur-synth-pool" in path.read_text()
    assert BlurSettings.from_dict(config.blur).length[0] > 0
    if config.blur_alternate is not None:
        assert BlurSettings.from_dict(config.blur_alternate).length[0] > 0
    if config.init_weights is not None:
        start = Path(config.init_weights)
        assert start.parts[0] == "runs" or (ROOT / start).is_file(), start
        if start.parts[0] != "runs":  # shipped weights must load into the configured network
            load_initial_weights(ROOT / start, config.model_config())
