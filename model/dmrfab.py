"""Dense multi-receptive-field attention block (DMRFAB, paper Figs. 5-8 and Eqs. 11-14).

Choices the paper leaves open (the widths are set per variant in :mod:`deblur.model.config`):
- one shared 1x1 conv feeds the four dilated 3x3 branches (Eq. 12); each conv is followed by LeakyReLU;
- every MRFAB outputs ``growth`` channels; unit k sees the concat of the block input and all earlier
  unit outputs; a 1x1 bottleneck maps the concat of all of them back to the input width (Eq. 11),
  with no extra residual (none is drawn);
- CA reduction ratio 16 (SE default, at least 4 channels), SA kernel 7x7 (CBAM default);
- with attention switched off (Table 6, Model 3) the final 1x1 conv reads R directly.
"""

import torch
from torch import nn

from .blocks import leaky_relu

DILATIONS = (1, 2, 3, 4)
CA_REDUCTION = 16
SA_KERNEL = 7


class ChannelAttention(nn.Module):
    """GAP -> 1x1 conv -> act -> 1x1 conv -> sigmoid: one weight per channel (paper Fig. 7)."""

    def __init__(self, channels: int, reduction: int = CA_REDUCTION):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            leaky_relu(),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(x)


class SpatialAttention(nn.Module):
    """concat[channel max, channel mean] -> conv -> sigmoid: one weight per pixel (paper Eq. 14)."""

    def __init__(self, kernel_size: int = SA_KERNEL):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return self.sigmoid(self.conv(pooled))


class MRFAB(nn.Module):
    """Multi-receptive-field attention block (paper Fig. 6, Eqs. 12-13)."""

    def __init__(self, in_channels: int, out_channels: int, branch_channels: int, attention: bool):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, branch_channels, 1), leaky_relu())
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(branch_channels, branch_channels, 3, padding=d, dilation=d), leaky_relu()
            )
            for d in DILATIONS
        )
        fused = len(DILATIONS) * branch_channels + in_channels
        self.attention = attention
        if attention:
            self.channel_attention = ChannelAttention(fused)
            self.spatial_attention = SpatialAttention()
        self.project = nn.Conv2d(2 * fused if attention else fused, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.reduce(x)
        r = torch.cat([branch(reduced) for branch in self.branches] + [x], dim=1)
        if self.attention:
            r = torch.cat([self.channel_attention(r) * r, self.spatial_attention(r) * r], dim=1)
        return self.project(r)


class DMRFAB(nn.Module):
    """Four densely connected MRFABs and a 1x1 bottleneck back to ``channels`` (paper Eq. 11)."""

    def __init__(self, channels: int, growth: int, branch_channels: int, attention: bool, units: int = 4):
        super().__init__()
        self.units = nn.ModuleList(
            MRFAB(channels + k * growth, growth, branch_channels, attention) for k in range(units)
        )
        self.bottleneck = nn.Conv2d(channels + units * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for unit in self.units:
            features.append(unit(torch.cat(features, dim=1)))
        return self.bottleneck(torch.cat(features, dim=1))
