"""Widening a trained network: more channels, the same output, and new channels that learn."""

import dataclasses

import pytest
import torch

from deblur.model.checkpoint import CheckpointError, save_checkpoint
from deblur.model.config import ABLATIONS, ModelConfig
from deblur.model.growth import load_initial_weights
from deblur.model.widening import widen
from deblur.train.recipes import TrainConfig

SMALL = ModelConfig(variant="test", width=8)
WIDE = dataclasses.replace(SMALL, width=16)
WIDE_KEEPING_DMRFAB = dataclasses.replace(WIDE, dmrfab_growth=SMALL.growth, dmrfab_branch=SMALL.branch)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
@pytest.mark.parametrize("target", [WIDE, WIDE_KEEPING_DMRFAB], ids=["all-wider", "dmrfab-kept"])
def test_widened_model_computes_what_its_source_did(ablation, target, trained_like):
    source = trained_like(dataclasses.replace(SMALL, **ABLATIONS[ablation]))
    target = dataclasses.replace(target, **ABLATIONS[ablation])
    wide = widen(source, target).eval()
    assert wide.config == target
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in source.parameters())
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), source(x), atol=1e-5, rtol=0)


def test_widened_channels_learn(trained_like):
    wide = widen(trained_like(SMALL), WIDE).train()
    blurred, sharp = torch.rand(2, 2, 3, 32, 32)
    (wide(blurred) - sharp).abs().mean().backward()
    # The stem's added output channels start with zero weights and must receive a gradient.
    stem = wide.enc1[0].pointwise
    assert torch.count_nonzero(stem.weight[SMALL.width :]) == 0
    assert stem.weight.grad[SMALL.width :].abs().sum() > 0


@pytest.mark.parametrize(
    "target",
    [
        dataclasses.replace(SMALL, width=16, dmrfab_growth=32),  # growth narrower than the source's 64
        dataclasses.replace(WIDE, mlff=False),
        dataclasses.replace(WIDE, bottleneck_blocks=1),
    ],
    ids=["narrower-growth", "other-ablation", "deeper"],
)
def test_widening_refuses_anything_but_more_channels(target, trained_like):
    with pytest.raises(CheckpointError, match="does not match"):
        widen(trained_like(SMALL), target)


def test_init_weights_widen_and_deepen_a_checkpoint(tmp_path, trained_like):
    source = trained_like(SMALL)
    path = tmp_path / "narrow.safetensors"
    save_checkpoint(source, path)
    target = dataclasses.replace(WIDE, bottleneck_blocks=2)
    grown = load_initial_weights(path, target).eval()
    assert grown.config == target
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(grown(x), source(x), atol=1e-5, rtol=0)
    with pytest.raises(CheckpointError, match="does not match"):
        load_initial_weights(path, dataclasses.replace(SMALL, width=8, dmrfab_branch=8))


def test_lite_widens_to_the_paper_network(tmp_path, trained_like):
    lite = dataclasses.replace(SMALL, variant="lite", dmrfab_growth=32, dmrfab_branch=12)
    source = trained_like(lite)
    path = tmp_path / "lite.safetensors"
    save_checkpoint(source, path)
    paper = ModelConfig(variant="paper", width=16)
    wide = load_initial_weights(path, paper).eval()
    assert wide.config == paper and (wide.config.growth, wide.config.branch) == (128, 48)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), source(x), atol=1e-5, rtol=0)


def test_train_config_sets_the_dmrfab_widths():
    config = TrainConfig(width=16, dmrfab_growth=64, dmrfab_branch=24).model_config()
    assert (config.width, config.growth, config.branch) == (16, 64, 24)


def test_info_prints_the_cost_of_a_wider_network():
    from deblur.train.info_cli import complexity_table

    table = complexity_table(["lite"], ["full"], width=24, dmrfab_growth=128, dmrfab_branch=48)
    assert "| lite, width 24, dmrfab_growth 128, dmrfab_branch 48 | full | 2.01 M |" in table
