"""Two published deblurring networks, written from their papers' descriptions for speed comparisons only.

- NAFNet (Chen et al., ECCV 2022, "Simple Baselines for Image Restoration"), the GoPro configuration
  NAFNet-w32: width 32, encoder blocks [1, 1, 1, 28], 1 middle block, decoder blocks [1, 1, 1, 1]
  (paper: 17.1 M parameters). Inputs must be a multiple of 16 on each side (four 2x downsamplings; the
  paper's code pads, which would freeze the traced sample's size into an exported graph).
- MIMO-UNet (Cho et al., ICCV 2021, "Rethinking Coarse-to-Fine Approach in Single Image Deblurring"), the
  base model: 8 residual blocks per level, 32/64/128 channels, SCM, FAM and AFF, three outputs
  (paper: 6.8 M parameters). Inputs must be a multiple of 4 on each side.

Random weights only; these are not part of the deblur package and carry none of the papers' training.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

NAFNET_SIZE_MULTIPLE = 16  # four 2x downsamplings, no padding in the network
NAFNET_W32_GOPRO = {"width": 32, "encoder_blocks": (1, 1, 1, 28), "middle_blocks": 1, "decoder_blocks": (1, 1, 1, 1)}


class LayerNorm2d(nn.Module):
    """Layer normalisation over the channels of each pixel, with a per-channel scale and shift."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        variance = (x - mean).pow(2).mean(1, keepdim=True)
        return self.weight * (x - mean) / torch.sqrt(variance + self.eps) + self.bias


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them (NAFNet's replacement for the activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=1)
        return first * second


class NAFBlock(nn.Module):
    """Mixer half (norm, 1x1 to 2c, depthwise 3x3, gate, simplified channel attention, 1x1) and FFN half
    (norm, 1x1 to 2c, gate, 1x1), each added back through a learned per-channel scale (beta, gamma)."""

    def __init__(self, channels: int):
        super().__init__()
        wide = 2 * channels
        self.norm1 = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, wide, 1)
        self.depthwise = nn.Conv2d(wide, wide, 3, padding=1, groups=wide)
        self.gate = SimpleGate()
        self.channel_attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels, 1))
        self.project = nn.Conv2d(channels, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.ffn_expand = nn.Conv2d(channels, wide, 1)
        self.ffn_project = nn.Conv2d(channels, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self.gate(self.depthwise(self.expand(self.norm1(x))))
        mixed = self.project(mixed * self.channel_attention(mixed))
        y = x + self.beta * mixed
        fed = self.ffn_project(self.gate(self.ffn_expand(self.norm2(y))))
        return y + self.gamma * fed


class NAFNet(nn.Module):
    """U-Net of NAFBlocks: 2x2 stride-2 convs double the channels down, 1x1 conv + PixelShuffle(2) halve
    them up, encoder features added to the decoder's, and a global residual."""

    def __init__(self, width: int, encoder_blocks: tuple[int, ...], middle_blocks: int, decoder_blocks: tuple[int, ...]):
        super().__init__()
        self.intro = nn.Conv2d(3, width, 3, padding=1)
        self.encoders, self.downs, self.ups, self.decoders = (nn.ModuleList() for _ in range(4))
        channels = width
        for count in encoder_blocks:
            self.encoders.append(_nafblocks(channels, count))
            self.downs.append(nn.Conv2d(channels, 2 * channels, 2, stride=2))
            channels *= 2
        self.middle = _nafblocks(channels, middle_blocks)
        for count in decoder_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(channels, 2 * channels, 1, bias=False), nn.PixelShuffle(2)))
            channels //= 2
            self.decoders.append(_nafblocks(channels, count))
        self.ending = nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.intro(image)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = decoder(up(x) + skip)
        return self.ending(x) + image


def _nafblocks(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(NAFBlock(channels) for _ in range(count)))


def nafnet_w32() -> NAFNet:
    """NAFNet-w32 in the paper's GoPro configuration."""
    return NAFNet(**NAFNET_W32_GOPRO)


def basic_conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, relu: bool = True,
               transpose: bool = False) -> nn.Sequential:
    """MIMO-UNet's conv unit: a 'same'-padded conv (or a 2x transposed conv) with bias, optionally ReLU."""
    if transpose:
        conv = nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2 - 1)
    else:
        conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2)
    return nn.Sequential(conv, nn.ReLU()) if relu else nn.Sequential(conv)


class ResBlock(nn.Module):
    """conv3x3 -> ReLU -> conv3x3, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(basic_conv(channels, channels, 3), basic_conv(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def res_blocks(channels: int, count: int) -> nn.Sequential:
    """One encoder or decoder level of MIMO-UNet (its EBlock / DBlock)."""
    return nn.Sequential(*(ResBlock(channels) for _ in range(count)))


class ShallowConvModule(nn.Module):
    """SCM: features of a downscaled input image (3x3, 1x1, 3x3, 1x1 convs), concatenated with the image
    itself and mixed by a 1x1 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.main = nn.Sequential(
            basic_conv(3, channels // 4, 3),
            basic_conv(channels // 4, channels // 2, 1),
            basic_conv(channels // 2, channels // 2, 3),
            basic_conv(channels // 2, channels - 3, 1),
        )
        self.mix = basic_conv(channels, channels, 1, relu=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.mix(torch.cat([image, self.main(image)], dim=1))


class FeatureAttentionModule(nn.Module):
    """FAM: the encoder feature times the SCM feature, through a 3x3 conv, plus the encoder feature."""

    def __init__(self, channels: int):
        super().__init__()
        self.merge = basic_conv(channels, channels, 3, relu=False)

    def forward(self, encoder_feature: torch.Tensor, scm_feature: torch.Tensor) -> torch.Tensor:
        return encoder_feature + self.merge(encoder_feature * scm_feature)


class AsymmetricFeatureFusion(nn.Module):
    """AFF: the three encoder levels (already resized to one scale) concatenated, 1x1 conv, 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.fuse = nn.Sequential(basic_conv(in_channels, out_channels, 1),
                                  basic_conv(out_channels, out_channels, 3, relu=False))

    def forward(self, level1: torch.Tensor, level2: torch.Tensor, level3: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([level1, level2, level3], dim=1))


class MIMOUNet(nn.Module):
    """Multi-input multi-output U-Net: one encoder fed the image at 1, 1/2 and 1/4 scale (SCM + FAM), AFF
    skip connections, and one decoder emitting a residual-corrected image at each of the three scales."""

    def __init__(self, base: int = 32, blocks: int = 8):
        super().__init__()
        c1, c2, c3 = base, 2 * base, 4 * base
        self.head = basic_conv(3, c1, 3)
        self.down1 = basic_conv(c1, c2, 3, stride=2)
        self.down2 = basic_conv(c2, c3, 3, stride=2)
        self.encoder1, self.encoder2, self.encoder3 = res_blocks(c1, blocks), res_blocks(c2, blocks), res_blocks(c3, blocks)
        self.scm_half, self.scm_quarter = ShallowConvModule(c2), ShallowConvModule(c3)
        self.fam_half, self.fam_quarter = FeatureAttentionModule(c2), FeatureAttentionModule(c3)
        self.aff1 = AsymmetricFeatureFusion(c1 + c2 + c3, c1)
        self.aff2 = AsymmetricFeatureFusion(c1 + c2 + c3, c2)
        self.decoder3, self.decoder2, self.decoder1 = res_blocks(c3, blocks), res_blocks(c2, blocks), res_blocks(c1, blocks)
        self.up2 = basic_conv(c3, c2, 4, stride=2, relu=False, transpose=True)
        self.up1 = basic_conv(c2, c1, 4, stride=2, relu=False, transpose=True)
        self.reduce2 = basic_conv(2 * c2, c2, 1)
        self.reduce1 = basic_conv(2 * c1, c1, 1)
        self.out_quarter = basic_conv(c3, 3, 3, relu=False)
        self.out_half = basic_conv(c2, 3, 3, relu=False)
        self.tail = basic_conv(c1, 3, 3, relu=False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Deblurred images at 1/4, 1/2 and full scale, in that order."""
        half = _rescale(image, 0.5)
        quarter = _rescale(half, 0.5)
        res1 = self.encoder1(self.head(image))
        res2 = self.encoder2(self.fam_half(self.down1(res1), self.scm_half(half)))
        z = self.encoder3(self.fam_quarter(self.down2(res2), self.scm_quarter(quarter)))

        z_up = _rescale(z, 2)
        fused2 = self.aff2(_rescale(res1, 0.5), res2, z_up)
        fused1 = self.aff1(res1, _rescale(res2, 2), _rescale(z_up, 2))

        z = self.decoder3(z)
        out_quarter = self.out_quarter(z) + quarter
        z = self.decoder2(self.reduce2(torch.cat([self.up2(z), fused2], dim=1)))
        out_half = self.out_half(z) + half
        z = self.decoder1(self.reduce1(torch.cat([self.up1(z), fused1], dim=1)))
        return [out_quarter, out_half, self.tail(z) + image]


def _rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor)  # nearest, as in the paper's code


class FullResolutionOutput(nn.Module):
    """A MIMO-UNet returning only its full-scale image, which depends on the whole network except the two
    coarse output convs (one 3x3 conv to 3 channels each at 1/4 and 1/2 scale: < 0.5 % of the MACs)."""

    def __init__(self, network: MIMOUNet):
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.network(image)[-1]


def conv_macs(build: Callable[[], nn.Module], height: int, width: int) -> int:
    """Multiply-accumulates of the convolutions in one 1 x 3 x height x width pass of ``build()``, built and
    run on the meta device (no memory, no weights).

    Counted as in ``deblur.model.complexity``: weights per output value for a conv, per input value for a
    transposed conv; element-wise operations, pooling and normalisation are left out.
    """
    with torch.device("meta"):
        model = build().eval()
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        taps = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        total += (inputs[0] if isinstance(module, nn.ConvTranspose2d) else output).numel() * taps

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.empty(1, 3, height, width, device="meta"))
    return total
