"""Widening a trained network: a model with more channels (``width``, DMRFAB growth and branch widths)
started from a narrower one.

Every added channel starts at exactly zero: the convolutions that feed it get zero weights from the old
channels and a zero bias, while the weights it feeds into old channels keep their random initialisation.
The wide model therefore computes what the narrow one did, and the gradient reaches the zero weights
through those random ones, so training can put the new channels to use at once (the other way round,
random inputs and zero outputs, starts just as exactly but learns only once the outputs have moved).

The one place where zero channels are not invisible is the DMRFAB's spatial attention: it takes the mean
and the maximum over channels. The mean is rescaled exactly (its conv weight grows by the channel ratio);
the maximum changes only at pixels where every old channel is negative.

A layout says where the old channels sit in a wide tensor: ``((old, new), ...)`` segments, one per
concatenated part, each holding its ``old`` channels first.
"""

import dataclasses

import torch
from torch import nn

from .checkpoint import CheckpointError
from .config import ModelConfig
from .dmrfab import DMRFAB, MRFAB
from .unet import DeblurUNet

Layout = tuple[tuple[int, int], ...]

WIDENABLE = ("width", "dmrfab_growth", "dmrfab_branch")
# The variant is a name, not a shape: widening lite to the paper's widths gives the paper network.
RENAMEABLE = ("variant",)


def widen(source: DeblurUNet, config: ModelConfig) -> DeblurUNet:
    """A model of ``config`` computing what ``source`` does; ``config`` may only add channels."""
    check_widening(source.config, config)
    wide = DeblurUNet(config)
    narrow_modules = dict(source.named_modules())
    layouts = concat_layouts(source, wide, narrow_modules)
    with torch.no_grad():
        for name, module in wide.named_modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                old = narrow_modules[name]
                default = (prefix(old.in_channels, module.in_channels), prefix(old.out_channels, module.out_channels))
                copy_into_wider(old, module, *layouts.get(name, default))
        for name, module in wide.named_modules():
            if isinstance(module, MRFAB) and module.attention:
                keep_spatial_attention_mean(narrow_modules[name], module)
    return wide


def check_widening(source: ModelConfig, target: ModelConfig) -> None:
    """Refuse targets that differ in anything but more channels."""
    changed = WIDENABLE + RENAMEABLE
    same_otherwise = dataclasses.replace(source, **{key: getattr(target, key) for key in changed}) == target
    narrower = any(getattr(target, key) < getattr(source, key) for key in ("width", "growth", "branch"))
    if not same_otherwise or narrower:
        raise CheckpointError(
            f"checkpoint config {source} does not match {target}: widening may only add channels "
            f"(width, dmrfab_growth, dmrfab_branch) and rename the variant"
        )


def prefix(old: int, new: int) -> Layout:
    """A tensor whose first ``old`` of ``new`` channels are the old ones."""
    return ((old, new),)


def old_channels(layout: Layout) -> torch.Tensor:
    """Indices of the old channels in the wide tensor."""
    parts, offset = [], 0
    for old, new in layout:
        parts.append(torch.arange(offset, offset + old))
        offset += new
    return torch.cat(parts)


def copy_into_wider(old: nn.Conv2d, new: nn.Conv2d, in_layout: Layout, out_layout: Layout) -> None:
    """Put ``old``'s weights at the old channels of ``new``; added outputs read nothing from old inputs.

    Also takes ``nn.ConvTranspose2d`` (the no-wavelet ablation), whose weight is stored (in, out, ...).
    """
    transposed = isinstance(new, nn.ConvTranspose2d)
    weight = new.weight.transpose(0, 1) if transposed else new.weight  # a view: writes reach new.weight
    old_weight = old.weight.transpose(0, 1) if transposed else old.weight
    rows = old_channels(out_layout)
    added = torch.ones(new.out_channels, dtype=torch.bool)
    added[rows] = False
    if new.groups == 1:
        cols = old_channels(in_layout)
        weight[added.nonzero()[:, 0].unsqueeze(1), cols] = 0.0
        weight[rows.unsqueeze(1), cols] = old_weight
    elif new.groups == new.in_channels == new.out_channels and old.groups == old.in_channels:
        weight[rows] = old_weight  # depthwise: an added channel reads only itself, which starts at zero
    else:
        raise CheckpointError(f"cannot widen a grouped convolution with {new.groups} groups")
    if new.bias is not None:
        new.bias[added] = 0.0
        new.bias[rows] = old.bias


def concat_layouts(
    source: DeblurUNet, wide: DeblurUNet, narrow_modules: dict[str, nn.Module]
) -> dict[str, tuple[Layout, Layout]]:
    """(input, output) layouts of the convolutions that read or gate concatenated tensors
    (``narrow_modules``: ``source``'s modules by name)."""
    layouts: dict[str, tuple[Layout, Layout]] = {}
    for level in (1, 2, 3):  # decoder: cat([upsampled, skip]), two equal halves
        old, new = getattr(source, f"dec{level}")[0], getattr(wide, f"dec{level}")[0]
        both = prefix(old.depthwise.in_channels // 2, new.depthwise.in_channels // 2) * 2
        layouts[f"dec{level}.0.depthwise"] = (both, both)
        layouts[f"dec{level}.0.pointwise"] = (both, prefix(old.pointwise.out_channels, new.pointwise.out_channels))
    for name, block in wide.named_modules():
        if isinstance(block, DMRFAB):
            layouts.update(dmrfab_layouts(name, narrow_modules[name], block))
    return layouts


def dmrfab_layouts(name: str, old: DMRFAB, new: DMRFAB) -> dict[str, tuple[Layout, Layout]]:
    """Layouts inside a DMRFAB: each unit reads cat(input, earlier units); each MRFAB cats branches and input."""
    layouts: dict[str, tuple[Layout, Layout]] = {}
    features = prefix(old.bottleneck.out_channels, new.bottleneck.out_channels)
    for index, (old_unit, new_unit) in enumerate(zip(old.units, new.units)):
        unit = f"{name}.units.{index}"
        growth = prefix(old_unit.project.out_channels, new_unit.project.out_channels)
        branch = prefix(old_unit.reduce[0].out_channels, new_unit.reduce[0].out_channels)
        fused = branch * len(new_unit.branches) + features
        layouts[f"{unit}.reduce.0"] = (features, branch)
        if new_unit.attention:
            hidden = new_unit.channel_attention.gate[1]
            old_hidden = prefix(old_unit.channel_attention.gate[1].out_channels, hidden.out_channels)
            layouts[f"{unit}.channel_attention.gate.1"] = (fused, old_hidden)
            layouts[f"{unit}.channel_attention.gate.3"] = (old_hidden, fused)
            layouts[f"{unit}.project"] = (fused * 2, growth)
        else:
            layouts[f"{unit}.project"] = (fused, growth)
        features = features + growth
    layouts[f"{name}.bottleneck"] = (features, prefix(old.bottleneck.out_channels, new.bottleneck.out_channels))
    return layouts


def keep_spatial_attention_mean(old: MRFAB, new: MRFAB) -> None:
    """Scale the channel-mean input of the SA conv so that added zero channels leave its value unchanged."""
    ratio = new.channel_attention.gate[1].in_channels / old.channel_attention.gate[1].in_channels
    new.spatial_attention.conv.weight[:, 1] *= ratio
