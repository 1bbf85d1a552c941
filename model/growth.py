"""Deepening a trained network: a model with more ``bottleneck_blocks`` started from one with fewer
(and, through :mod:`.widening`, a wider one from a narrower).

The added blocks (``blocks.ResidualDSC``) start as the identity, so the grown model computes exactly what
the source did; training then puts the new capacity to use instead of starting again from scratch.
"""

import dataclasses
from pathlib import Path

import torch

from .blocks import ResidualDSC
from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint_config
from .config import ModelConfig
from .scale_space import ScaleSpaceDeblur
from .unet import DeblurUNet
from .widening import WIDENABLE, widen


def grow(source: DeblurUNet, config: ModelConfig) -> DeblurUNet:
    """A model of ``config`` holding ``source``'s weights; ``config`` may only add bottleneck blocks."""
    same_otherwise = dataclasses.replace(source.config, bottleneck_blocks=config.bottleneck_blocks) == config
    if not same_otherwise or config.bottleneck_blocks < source.config.bottleneck_blocks:
        raise CheckpointError(
            f"checkpoint config {source.config} does not match {config}: growing may only add bottleneck_blocks"
        )
    grown = DeblurUNet(config)
    added = added_block_prefixes(grown, source.config.bottleneck_blocks)
    state = grown.state_dict()
    kept = [key for key in state if not key.startswith(added)]
    source_state = source.state_dict()
    if len(kept) != len(source_state):
        raise CheckpointError(f"grown model keeps {len(kept)} tensors, the source has {len(source_state)}")
    for key, (source_key, tensor) in zip(kept, source_state.items()):
        if state[key].shape != tensor.shape:
            raise CheckpointError(f"{source_key} {tuple(tensor.shape)} does not fit {key} {tuple(state[key].shape)}")
        state[key] = tensor
    grown.load_state_dict(state, strict=True)
    return grown


def added_block_prefixes(model: DeblurUNet, existing: int) -> tuple[str, ...]:
    """State-dict prefixes of the bottleneck blocks past the first ``existing`` (those growing adds)."""
    blocks = [name for name, module in model.named_modules() if isinstance(module, ResidualDSC)]
    return tuple(f"{name}." for name in blocks[existing:])


def load_initial_weights(path: Path, config: ModelConfig) -> torch.nn.Module:
    """A model of ``config`` from the checkpoint at ``path``: its own network, or a shallower or narrower
    one grown (deeper first, then wider); a scale-space model gets a single-scale checkpoint's network and a
    fresh gate."""
    source_config = read_checkpoint_config(path)
    if source_config == config:
        return load_checkpoint(path, expected=config)
    if config.scale_space and not source_config.scale_space:
        model = ScaleSpaceDeblur(config)
        model.net.load_state_dict(load_initial_weights(path, model.net.config).state_dict())
        return model
    model = load_checkpoint(path)
    with torch.no_grad():
        if source_config.bottleneck_blocks < config.bottleneck_blocks:
            model = grow(model, dataclasses.replace(source_config, bottleneck_blocks=config.bottleneck_blocks))
        if any(getattr(model.config, key) != getattr(config, key) for key in WIDENABLE):
            model = widen(model, config)
    if model.config != config:
        raise CheckpointError(f"checkpoint config {source_config} does not match {config}")
    return model
