"""Training losses: MSE plus one weighted auxiliary term (paper Eqs. 16-19, Table 2).

``mse+frlf`` (the paper's choice, lambda 0.1) adds the frequency reconstruction loss: the mean L1
distance between the 2-D FFTs of output and target over real and imaginary parts (Eq. 17; the 1/2N
of the paper is a mean). ``mse+ssim`` (lambda 0.2) adds ``1 - SSIM`` with an 11x11 Gaussian window
(sigma 1.5). ``mse+perceptual`` (lambda 0.5 in Table 2) needs ImageNet-pretrained VGG weights, which
this project cannot download or ship, so selecting it raises a ConfigError instead of falling back.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError

# Table 2 of the paper: loss name -> default lambda of the auxiliary term.
LOSSES: dict[str, float] = {"mse": 0.0, "mse+frlf": 0.1, "mse+ssim": 0.2, "mse+perceptual": 0.5}

_SSIM_C1 = 0.01**2
_SSIM_C2 = 0.03**2


def frequency_reconstruction_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """FRLF (Eq. 17): mean |FFT(output) - FFT(target)| over real and imaginary parts, in float32."""
    with torch.autocast(device_type=output.device.type, enabled=False):
        diff = torch.fft.rfft2(output.float()) - torch.fft.rfft2(target.float())
        return torch.view_as_real(diff).abs().mean()


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1-D Gaussian, shape (size,)."""
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    weights = torch.exp(-(coords**2) / (2 * sigma**2))
    return weights / weights.sum()


def ssim_torch(a: torch.Tensor, b: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Differentiable mean SSIM of two NCHW batches in [0, 1] (separable Gaussian, valid region)."""
    channels = a.shape[1]
    size = window.numel()
    kx = window.view(1, 1, 1, size).expand(channels, 1, 1, size).to(a)
    ky = window.view(1, 1, size, 1).expand(channels, 1, size, 1).to(a)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kx, groups=channels), ky, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _SSIM_C1) * (2 * cov + _SSIM_C2)
    den = (mu_a**2 + mu_b**2 + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    return (num / den).mean()


def check_loss_name(name: str) -> None:
    """Raise ConfigError for unknown losses and for the perceptual loss (no pretrained weights here)."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; choose from {sorted(LOSSES)}")
    if name == "mse+perceptual":
        raise ConfigError(
            "loss 'mse+perceptual' needs ImageNet-pretrained VGG weights, which cannot be downloaded "
            "or bundled here; choose 'mse+frlf' (the paper's loss), 'mse+ssim' or 'mse'"
        )


class DeblurLoss(nn.Module):
    """``MSE + weight * auxiliary``; ``forward`` returns the total and its parts for logging."""

    def __init__(self, name: str = "mse+frlf", weight: float | None = None):
        super().__init__()
        check_loss_name(name)
        self.name = name
        self.weight = LOSSES[name] if weight is None else float(weight)
        self.register_buffer("window", gaussian_window(), persistent=False)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and the detached parts: ``mse`` and ``frlf`` or ``ssim`` (= 1 - SSIM)."""
        with torch.autocast(device_type=output.device.type, enabled=False):
            mse = F.mse_loss(output.float(), target.float())
        parts = {"mse": mse}
        if self.name == "mse+frlf":
            parts["frlf"] = frequency_reconstruction_loss(output, target)
        elif self.name == "mse+ssim":
            with torch.autocast(device_type=output.device.type, enabled=False):
                parts["ssim"] = 1.0 - ssim_torch(output.float(), target.float(), self.window)
        total = mse + sum(self.weight * value for key, value in parts.items() if key != "mse")
        return total, {key: value.detach() for key, value in parts.items()}
