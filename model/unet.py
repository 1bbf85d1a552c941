"""The improved U-Net of Lian & Wang (Sci. Rep. 2023): encoder 2-2-2-2, DMRFAB bridge, MLFF skips,
decoder 2-3-3-2, Haar DWT/IWT resampling and a global residual (plus, optionally, extra residual DSC blocks
after the DMRFAB: ``ModelConfig.bottleneck_blocks``).

Shapes for width C (paper: 32) and an H x W input (H, W multiples of 8):
E1: C @ H, E2: 2C @ H/2, E3: 4C @ H/4, bottleneck 8C @ H/8 -> D4: 16C @ H/8;
decoder: IWT -> 4C @ H/4 (+MLFF3) -> 8C -> IWT -> 2C @ H/2 (+MLFF2) -> 4C -> IWT -> C @ H (+MLFF1) -> 3.
"""

import torch
from torch import nn

from .blocks import DSC, RDSCGroup, ResidualDSC, downsample, upsample
from .config import SIZE_MULTIPLE, ModelConfig
from .dmrfab import DMRFAB
from .mlff import MLFF


class DeblurUNet(nn.Module):
    """Input: RGB float in [0, 1], NCHW, H and W multiples of 8. Output: same shape, clamped in eval mode."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c, wavelet = config.width, config.wavelet

        self.enc1 = nn.Sequential(DSC(3, c), RDSCGroup(c))
        self.down1 = downsample(c, wavelet)
        self.enc2 = nn.Sequential(DSC(4 * c, 2 * c), RDSCGroup(2 * c))
        self.down2 = downsample(2 * c, wavelet)
        self.enc3 = nn.Sequential(DSC(8 * c, 4 * c), RDSCGroup(4 * c))
        self.down3 = downsample(4 * c, wavelet)
        bottleneck = [DSC(16 * c, 8 * c), RDSCGroup(8 * c)]
        if config.dmrfab:
            bottleneck.append(DMRFAB(8 * c, config.growth, config.branch, config.attention))
        if config.bottleneck_blocks:
            bottleneck.append(nn.Sequential(*(ResidualDSC(8 * c) for _ in range(config.bottleneck_blocks))))
        bottleneck.append(DSC(8 * c, 16 * c))
        self.bottleneck = nn.Sequential(*bottleneck)

        self.mlff = nn.ModuleList(MLFF(c, level, wavelet) for level in range(3)) if config.mlff else None

        self.up3 = upsample(4 * c, wavelet)
        self.dec3 = nn.Sequential(DSC(8 * c, 4 * c), RDSCGroup(4 * c), DSC(4 * c, 8 * c))
        self.up2 = upsample(2 * c, wavelet)
        self.dec2 = nn.Sequential(DSC(4 * c, 2 * c), RDSCGroup(2 * c), DSC(2 * c, 4 * c))
        self.up1 = upsample(c, wavelet)
        self.dec1 = nn.Sequential(DSC(2 * c, c), RDSCGroup(c), DSC(c, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x)
        e1 = self.enc1(x)
        e2 = self.enc2(self.down1(e1))
        e3 = self.enc3(self.down2(e2))
        d4 = self.bottleneck(self.down3(e3))

        skips = [e1, e2, e3]
        if self.mlff is not None:
            skips = [fuse(skips) for fuse in self.mlff]

        d3 = self.dec3(torch.cat([self.up3(d4), skips[2]], dim=1))
        d2 = self.dec2(torch.cat([self.up2(d3), skips[1]], dim=1))
        residual = self.dec1(torch.cat([self.up1(d2), skips[0]], dim=1))
        out = x + residual
        # Clamping only outside training keeps gradients alive for saturated pixels.
        return out if self.training else out.clamp(0.0, 1.0)


def check_input_size(x: torch.Tensor, multiple: int = SIZE_MULTIPLE) -> None:
    """Reject inputs that are not RGB or whose sides are not multiples of ``multiple`` (the three wavelet levels:
    8; a scale-space model's quarter-size pass: 32); skipped while tracing for export."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected an (N, 3, H, W) RGB tensor, got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(
            f"height and width must be multiples of {multiple}, got {h}x{w}; "
            "pad the image (the runtime reflect-pads and crops back automatically)"
        )

