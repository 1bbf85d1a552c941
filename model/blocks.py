"""Convolution blocks of the network: DSC, RDSC, RDSC groups and the resampling steps.

Choices the paper leaves open (stated here once):
- every conv has a bias; no normalisation layers (none are drawn in the paper's figures);
- LeakyReLU uses negative slope 0.2;
- an "RDSC group" is three RDSCs in sequence (paper: "RDSC group including three RDSC").
"""

import torch
from torch import nn

from .haar import HaarDWT, HaarIWT

LEAKY_SLOPE = 0.2


def leaky_relu() -> nn.Module:
    """The activation used throughout the network."""
    return nn.LeakyReLU(LEAKY_SLOPE, inplace=False)


class DSC(nn.Module):
    """Depthwise-separable conv: depthwise 3x3 then pointwise 1x1 (paper Fig. 2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class RDSC(nn.Module):
    """Residual DSC: DSC -> LeakyReLU -> DSC, plus the input, then LeakyReLU (paper Fig. 3)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = DSC(channels, channels)
        self.act1 = leaky_relu()
        self.conv2 = DSC(channels, channels)
        self.act2 = leaky_relu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(x + self.conv2(self.act1(self.conv1(x))))


class RDSCGroup(nn.Sequential):
    """Three RDSC blocks in sequence."""

    def __init__(self, channels: int, depth: int = 3):
        super().__init__(*(RDSC(channels) for _ in range(depth)))


class ResidualDSC(nn.Module):
    """x + DSC(LeakyReLU(DSC(x))), with no activation after the sum and the last 1x1 conv zero at start.

    Not in the paper: the extra bottleneck depth of ``ModelConfig.bottleneck_blocks``. Starting as the
    identity lets a trained network take these blocks on without changing its output (``deblur.model.growth``).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = DSC(channels, channels)
        self.act = leaky_relu()
        self.conv2 = DSC(channels, channels)
        nn.init.zeros_(self.conv2.pointwise.weight)
        nn.init.zeros_(self.conv2.pointwise.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class StridedDown(nn.Module):
    """Learned stand-in for the DWT (ablation "no DWT/IWT"): (C, H, W) -> (4C, H/2, W/2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4 * channels, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class TransposedUp(nn.Module):
    """Learned stand-in for the IWT (ablation "no DWT/IWT"): (4C, H, W) -> (C, 2H, 2W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(4 * channels, channels, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def downsample(channels: int, wavelet: bool) -> nn.Module:
    """Halve H and W, multiply channels by 4: Haar DWT, or a strided conv when ``wavelet`` is off."""
    return HaarDWT(channels) if wavelet else StridedDown(channels)


def upsample(channels: int, wavelet: bool) -> nn.Module:
    """Double H and W, divide channels by 4 (``channels`` is the output count): Haar IWT or a transposed conv."""
    return HaarIWT(channels) if wavelet else TransposedUp(channels)
