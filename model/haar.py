"""Orthonormal 2-D Haar wavelet transform as fixed-kernel (grouped) convolutions.

The DWT is a grouped ``Conv2d(C, 4C, 2, stride=2, groups=C)`` and the IWT the matching grouped
``ConvTranspose2d``; the kernels are buffers, never trained, so the exported graph is plain
Conv / ConvTranspose. Because the four 2x2 filters are orthonormal, IWT(DWT(x)) == x exactly
(up to float rounding) and the transform preserves energy.

Sub-band order per input channel: LL, LH, HL, HH (channel ``4*c + k`` holds band ``k`` of channel ``c``).
"""

import torch
import torch.nn.functional as F
from torch import nn

_HAAR_FILTERS = (
    ((0.5, 0.5), (0.5, 0.5)),  # LL: average
    ((0.5, 0.5), (-0.5, -0.5)),  # LH: vertical detail (rows differ)
    ((0.5, -0.5), (0.5, -0.5)),  # HL: horizontal detail (columns differ)
    ((0.5, -0.5), (-0.5, 0.5)),  # HH: diagonal detail
)


def haar_kernel(channels: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Grouped-conv weight of shape (4*channels, 1, 2, 2) holding the four Haar filters per channel."""
    bank = torch.tensor(_HAAR_FILTERS, dtype=dtype).unsqueeze(1)  # (4, 1, 2, 2)
    return bank.repeat(channels, 1, 1, 1)


class HaarDWT(nn.Module):
    """One level of the 2-D Haar DWT: (N, C, H, W) -> (N, 4C, H/2, W/2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("weight", haar_kernel(channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, stride=2, groups=self.channels)


class HaarIWT(nn.Module):
    """Inverse of :class:`HaarDWT`: (N, 4C, H, W) -> (N, C, 2H, 2W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("weight", haar_kernel(channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self.weight, stride=2, groups=self.channels)
