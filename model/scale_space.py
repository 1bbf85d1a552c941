"""Scale-space deblurring: one network run at full, half and quarter size, its corrections combined by a gate.

Blur of L pixels is L/2 pixels at half size and L/4 at quarter size, so a network that removes short blur
removes long blur at a coarser scale. Each scale s gives a correction c_s = net(x_s) - x_s (x_s: the frame
area-shrunk by s). The candidates, Laplacian-pyramid style (``up``: bilinear x2, ``down``: 2x2 mean):

- none: 0 (leave the region as it is);
- full: c_1;
- half: up(c_2);
- full + half: up(c_2) + (c_1 - up(down(c_1))), the low band from the half-size pass, the high band from the full;
- full + half + quarter: up(up(c_4) + (c_2 - up(down(c_2)))) + (c_1 - up(down(c_1))).

A small gate (``ScaleGate``) looks at the frame and the three corrections at quarter size and weighs the
candidates per region (softmax, smooth: computed at 1/4 and upsampled), which is a learned, no-reference
judgement of how long the blur is there. ``blur_length`` turns its weights into pixels.
Everything is Conv, AveragePool, Resize, Softmax and element-wise ops, so the whole composition exports as one
ONNX graph with dynamic H and W (multiples of ``SCALE_SPACE_MULTIPLE``).
"""

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .unet import DeblurUNet, check_input_size

CANDIDATES = ("none", "full", "half", "full+half", "full+half+quarter")


def down(x: torch.Tensor) -> torch.Tensor:
    """Area shrink by 2 (2x2 means)."""
    return F.avg_pool2d(x, 2)


def up(x: torch.Tensor) -> torch.Tensor:
    """Bilinear enlargement by 2, pixel centres aligned (OpenCV's INTER_LINEAR, ONNX Resize half_pixel)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def candidate_corrections(c1: torch.Tensor, c2: torch.Tensor, c4: torch.Tensor) -> torch.Tensor:
    """(N, len(CANDIDATES) - 1, 3, H, W): the corrections of ``CANDIDATES`` but "none" (zero, so its weight
    drops out of the weighted sum) from the per-scale corrections."""
    high1 = c1 - up(down(c1))
    high2 = c2 - up(down(c2))
    half = up(c2)
    return torch.stack([c1, half, half + high1, up(up(c4) + high2) + high1], dim=1)


class ScaleGate(nn.Module):
    """Per-region softmax weights over ``CANDIDATES``, at 1/4 size, from the frame and its corrections.

    Inputs at quarter size: the frame, the three corrections and the local size of the full and half passes'
    high bands (18 channels). Three 3x3 convolutions with dilations 1, 2, 4 (receptive field 29 px at 1/4, 116
    at full size), a frame-wide context added (mean over the frame, 1x1 conv), a 3x3 head.
    """

    def __init__(self, hidden: int = 24):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(18, hidden, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2), nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, hidden, 3, padding=4, dilation=4), nn.LeakyReLU(0.2),
        )
        self.context = nn.Conv2d(hidden, hidden, 1)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(hidden, len(CANDIDATES), 3, padding=1))

    def forward(self, x: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor, c4: torch.Tensor) -> torch.Tensor:
        high1 = (c1 - up(down(c1))).abs()
        high2 = (c2 - up(down(c2))).abs()
        quarter = [down(down(x)), down(down(c1)), down(c2), c4, 4 * down(down(high1)), 4 * down(high2)]
        hidden = self.body(torch.cat(quarter, dim=1))
        hidden = hidden + self.context(hidden.mean(dim=(2, 3), keepdim=True))
        return torch.softmax(self.head(hidden), dim=1)


class ScaleSpaceDeblur(nn.Module):
    """The network of ``config`` at full, half and quarter size, combined per region by a ``ScaleGate``.

    Input: RGB float in [0, 1], NCHW, H and W multiples of 32. ``forward`` returns the deblurred frame (clamped
    in eval mode); ``forward_with_length`` also returns each frame's estimated blur length in px (N,): the
    gate's weights, averaged over the frame, times ``candidate_lengths`` (a buffer fitted to synthetic blur of
    known length after training, ``deblur.train.blur_length``; zeros until then).
    With ``freeze_network()`` only the gate learns and the three network passes run without gradients.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not config.scale_space:
            raise ValueError("ScaleSpaceDeblur needs a config with scale_space = True")
        self.config = config
        self.net = DeblurUNet(dataclasses.replace(config, scale_space=False))
        self.gate = ScaleGate()
        self.register_buffer("candidate_lengths", torch.zeros(len(CANDIDATES)))
        self.network_frozen = False

    def freeze_network(self) -> None:
        """Train the gate only: the network's weights stop learning and its passes keep no graph."""
        self.net.requires_grad_(False)
        self.network_frozen = True

    def corrections(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The network's corrections (output - input) at full, half and quarter size."""
        half = down(x)
        quarter = down(half)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.network_frozen):
            return tuple(self.net(scaled) - scaled for scaled in (x, half, quarter))

    def mean_gate_weights(self, x: torch.Tensor) -> torch.Tensor:
        """(N, len(CANDIDATES)): the gate's weights averaged over each frame (what the blur length is read from)."""
        check_input_size(x, self.config.size_multiple)
        return self.gate(x, *self.corrections(x)).mean(dim=(2, 3))

    def forward_with_length(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_input_size(x, self.config.size_multiple)
        c1, c2, c4 = self.corrections(x)
        weights = self.gate(x, c1, c2, c4)
        length = (weights.mean(dim=(2, 3)) * self.candidate_lengths).sum(dim=1)
        out = x + (up(up(weights[:, 1:])).unsqueeze(2) * candidate_corrections(c1, c2, c4)).sum(dim=1)
        return (out if self.training else out.clamp(0.0, 1.0)), length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_length(x)[0]


class WithBlurLength(nn.Module):
    """Export wrapper: the scale-space model's two outputs (deblurred frame, estimated blur length)."""

    def __init__(self, model: ScaleSpaceDeblur):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_with_length(x)


def build_model(config: ModelConfig) -> nn.Module:
    """The model a config describes: ``ScaleSpaceDeblur`` when ``config.scale_space``, else ``DeblurUNet``."""
    return ScaleSpaceDeblur(config) if config.scale_space else DeblurUNet(config)
