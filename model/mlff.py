"""Multi-layer feature fusion (MLFF, paper Fig. 4 and Eqs. 7-10).

MLFF_i brings the encoder features E1, E2, E3 to level i's width and size, adds them (fusion) and
re-weights them with an SK-style selection (GAP -> 1x1 down to C_i/8 -> three 1x1 up -> softmax
across the three -> weighted sum).

Choices the paper leaves open:
- resizing follows Eqs. 8-10 literally: a 1x1 conv first sets the channel count so that the wavelet
  steps land on C_i (C_i / 4^k before k DWTs, C_i * 4^k before k IWTs), then the DWTs/IWTs;
- the squeeze conv of the selection is followed by LeakyReLU (SKNet uses BN+ReLU; no BN here).
"""

import torch
from torch import nn

from .blocks import downsample, leaky_relu, upsample

LEVELS = 3


class LevelAdapter(nn.Module):
    """Maps encoder level ``source`` features (width*2^source channels) to level ``target``."""

    def __init__(self, width: int, source: int, target: int, wavelet: bool):
        super().__init__()
        in_channels = width * 2**source
        out_channels = width * 2**target
        steps = abs(target - source)
        if target > source:  # coarser level: conv to C_t / 4^k, then k DWTs
            mid = out_channels // 4**steps
            resample = [downsample(mid * 4**k, wavelet) for k in range(steps)]
        else:  # finer level: conv to C_t * 4^k, then k IWTs
            mid = out_channels * 4**steps
            resample = [upsample(mid // 4 ** (k + 1), wavelet) for k in range(steps)]
        self.channel_conv = nn.Conv2d(in_channels, mid, 1)
        self.resample = nn.Sequential(*resample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resample(self.channel_conv(x))


class SelectiveKernelFusion(nn.Module):
    """SK-style selection over three same-shaped inputs (paper Eq. 7)."""

    def __init__(self, channels: int, branches: int = LEVELS, reduction: int = 8):
        super().__init__()
        squeezed = max(channels // reduction, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.squeeze = nn.Sequential(nn.Conv2d(channels, squeezed, 1), leaky_relu())
        self.excite = nn.ModuleList(nn.Conv2d(squeezed, channels, 1) for _ in range(branches))

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        fused = features[0] + features[1] + features[2]
        z = self.squeeze(self.pool(fused))
        weights = torch.softmax(torch.stack([conv(z) for conv in self.excite], dim=1), dim=1)
        # sum_k weights[:, k] * features[k], written out: stacking the three full-size features costs
        # a copy and a broadcast Mul over 3x the tensor (15 % of the 720p CPU time at level 1).
        return weights[:, 0] * features[0] + weights[:, 1] * features[1] + weights[:, 2] * features[2]


class MLFF(nn.Module):
    """Fusion of E1..E3 at encoder level ``level`` (0-based: 0 = full resolution)."""

    def __init__(self, width: int, level: int, wavelet: bool):
        super().__init__()
        self.level = level
        self.adapters = nn.ModuleList(
            nn.Identity() if source == level else LevelAdapter(width, source, level, wavelet)
            for source in range(LEVELS)
        )
        self.select = SelectiveKernelFusion(width * 2**level)

    def forward(self, encoder_features: list[torch.Tensor]) -> torch.Tensor:
        aligned = [adapt(e) for adapt, e in zip(self.adapters, encoder_features)]
        return self.select(aligned)
