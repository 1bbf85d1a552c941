"""Parameter and multiply-accumulate (MAC) counts of the network.

MACs count convolutions, transposed convolutions and the fixed Haar DWT/IWT convs (weights x
positions); element-wise operations, pooling and softmax are left out, as is usual for MAC tables.
Shapes are propagated on the ``meta`` device, so counting a 1080p pass allocates no memory.
"""

import torch
from torch import nn

from .config import ModelConfig
from .haar import HaarDWT, HaarIWT
from .unet import DeblurUNet

_CONV = (nn.Conv2d, HaarDWT)
_TRANSPOSED = (nn.ConvTranspose2d, HaarIWT)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the fixed Haar kernels are buffers and not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _macs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    taps_per_group = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
    if isinstance(module, _TRANSPOSED):  # every input value is scattered through its group's taps
        return x.numel() * taps_per_group
    return y.numel() * taps_per_group  # every output value gathers its group's taps


def count_macs(config: ModelConfig, height: int, width: int) -> int:
    """MACs of one forward pass on a 1 x 3 x height x width input."""
    model = DeblurUNet(config).to("meta").eval()
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += _macs(module, inputs[0], output)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _CONV + _TRANSPOSED)]
    try:
        with torch.no_grad():
            model(torch.empty(1, 3, height, width, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return total
