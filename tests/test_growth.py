"""Extra bottleneck blocks: the config switch, and growing a trained network without changing its output."""

import dataclasses

import pytest
import torch

from deblur.model.checkpoint import CheckpointError, save_checkpoint
from deblur.model.config import ConfigError, ModelConfig
from deblur.model.growth import grow, load_initial_weights
from deblur.model.unet import DeblurUNet
from deblur.train.recipes import TrainConfig

SMALL = ModelConfig(variant="test", width=8)
DEEP = dataclasses.replace(SMALL, bottleneck_blocks=3)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bottleneck_blocks_add_parameters_and_keep_shapes():
    plain, deep = DeblurUNet(SMALL), DeblurUNet(DEEP)
    per_block = 2 * (64 * 9 + 64 + 64 * 64 + 64)  # two DSCs at 8C = 64 channels
    assert sum(p.numel() for p in deep.parameters()) - sum(p.numel() for p in plain.parameters()) == 3 * per_block
    x = torch.rand(2, 3, 40, 24)
    assert deep.eval()(x).shape == x.shape


def test_bottleneck_blocks_must_not_be_negative():
    with pytest.raises(ConfigError, match="bottleneck_blocks"):
        ModelConfig(width=8, bottleneck_blocks=-1)
    with pytest.raises(ConfigError, match="bottleneck_blocks"):
        TrainConfig(width=8, bottleneck_blocks=-2)
    assert TrainConfig(width=8, bottleneck_blocks=2).model_config().bottleneck_blocks == 2


def test_grown_model_computes_exactly_what_its_source_did(trained_like):
    source = trained_like(SMALL)
    x = torch.rand(1, 3, 32, 48)
    for config in (DEEP, dataclasses.replace(SMALL, bottleneck_blocks=1)):
        grown = grow(source, config).eval()
        with torch.no_grad():
            assert torch.equal(grown(x), source(x))
    twice = grow(grow(source, dataclasses.replace(SMALL, bottleneck_blocks=1)), DEEP).eval()
    with torch.no_grad():
        assert torch.equal(twice(x), source(x))


def test_grown_blocks_learn(trained_like):
    grown = grow(trained_like(SMALL), DEEP).train()
    x = torch.rand(1, 3, 16, 16)
    grown(x).square().mean().backward()
    new_output = grown.bottleneck[3][0].conv2.pointwise.weight
    assert new_output.grad is not None and new_output.grad.abs().sum() > 0


def test_growing_keeps_the_blocks_a_deeper_source_already_has(trained_like):
    source = trained_like(dataclasses.replace(SMALL, bottleneck_blocks=1), seed=3)
    grown = grow(source, DEEP)
    assert torch.equal(grown.bottleneck[3][0].conv2.pointwise.weight, source.bottleneck[3][0].conv2.pointwise.weight)
    assert not grown.bottleneck[3][1].conv2.pointwise.weight.any()


@pytest.mark.parametrize("target", [dataclasses.replace(SMALL, width=16, bottleneck_blocks=3),
                                    dataclasses.replace(DEEP, mlff=False),
                                    SMALL])
def test_growing_refuses_anything_but_more_blocks(target, trained_like):
    source = trained_like(dataclasses.replace(SMALL, bottleneck_blocks=1))
    with pytest.raises(CheckpointError, match="does not match"):
        grow(source, target)


def test_initial_weights_load_the_same_network_or_grow_a_shallower_one(tmp_path, trained_like):
    path = tmp_path / "source.safetensors"
    source = trained_like(SMALL)
    save_checkpoint(source, path)
    x = torch.rand(1, 3, 24, 24)
    same, deeper = load_initial_weights(path, SMALL).eval(), load_initial_weights(path, DEEP).eval()
    with torch.no_grad():
        assert torch.equal(same(x), source(x)) and torch.equal(deeper(x), source(x))
    assert deeper.config == DEEP
    save_checkpoint(grow(source, DEEP), tmp_path / "deep.safetensors")
    with pytest.raises(CheckpointError, match="does not match"):
        load_initial_weights(tmp_path / "deep.safetensors", SMALL)


def test_each_block_costs_two_dscs_at_one_eighth_resolution():
    from deblur.model.complexity import count_macs
    from deblur.train.info_cli import complexity_table

    per_block = 2 * (64 * 9 + 64 * 64)  # MACs per 1/8-resolution position at 8C = 64 channels
    extra = count_macs(DEEP, 64, 64) - count_macs(SMALL, 64, 64)
    assert extra == 3 * per_block * 8 * 8
    table = complexity_table(["lite"], ["full"], bottleneck_blocks=8)
    assert "| lite, bottleneck_blocks 8 | full | 1.75 M |" in table
