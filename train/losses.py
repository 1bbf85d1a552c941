"""Training losses: a content term (MSE, or L1) plus one weighted auxiliary term (paper Eqs. 16-19, Table 2).

``mse+frlf`` (the paper's choice, lambda 0.1) adds the frequency reconstruction loss: the mean L1
distance between the 2-D FFTs of output and target over real and imaginary parts (Eq. 17; the 1/2N
of the paper is a mean). ``mse+ssim`` (lambda 0.2) adds ``1 - SSIM`` with an 11x11 Gaussian window
(sigma 1.5). ``mse+perceptual`` (lambda 0.5 in Table 2) needs ImageNet-pretrained VGG weights, which
this project cannot download or ship, so selecting it raises a ConfigError instead of falling back.
``l1+frlf`` (not in the paper; MIMO-UNet's loss) swaps the MSE for the mean absolute error, which weighs
small errors more than MSE does; ``mse`` is still logged beside it.

``reduction`` says how the batch's images are combined: ``mean`` (the paper) averages the loss over all
pixels, so the MSE term pulls an image with 100x the error 100x harder; ``log`` averages ``10·log10`` of
every image's own loss (NAFNet's PSNR loss, here of the paper's loss), dividing each image's gradient by its
loss, so easy and hard images count alike, as in a mean PSNR.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from deblur.metrics import SSIM_SIGMA, SSIM_WINDOW, local_ssim
from deblur.model.config import ConfigError

# Table 2 of the paper: loss name -> default lambda of the auxiliary term.
LOSSES: dict[str, float] = {"mse": 0.0, "mse+frlf": 0.1, "mse+ssim": 0.2, "mse+perceptual": 0.5, "l1+frlf": 0.1}
CONTENT_TERMS = ("mse", "l1")  # the unweighted first term of a loss name
REDUCTIONS = ("mean", "log")
LOG_FLOOR = 1e-8  # keeps log finite for a perfect image


def per_image_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean over every dimension but the first (the batch): shape (N,)."""
    return values.flatten(1).mean(1)


def frequency_reconstruction_loss(output: torch.Tensor, target: torch.Tensor, per_image: bool = False) -> torch.Tensor:
    """FRLF (Eq. 17): mean |FFT(output) - FFT(target)| over real and imaginary parts, in float32.

    A scalar, or one value per image with ``per_image``.
    """
    with torch.autocast(device_type=output.device.type, enabled=False):
        diff = torch.view_as_real(torch.fft.rfft2(output.float()) - torch.fft.rfft2(target.float())).abs()
        return per_image_mean(diff) if per_image else diff.mean()


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian, shape (size,)."""
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    weights = torch.exp(-(coords**2) / (2 * sigma**2))
    return weights / weights.sum()


def ssim_torch(a: torch.Tensor, b: torch.Tensor, window: torch.Tensor, per_image: bool = False) -> torch.Tensor:
    """Differentiable mean SSIM of two NCHW batches in [0, 1] (separable Gaussian, valid region).

    A scalar, or one value per image with ``per_image``.
    """
    channels = a.shape[1]
    size = window.numel()
    kx = window.view(1, 1, 1, size).expand(channels, 1, 1, size).to(a)
    ky = window.view(1, 1, size, 1).expand(channels, 1, size, 1).to(a)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kx, groups=channels), ky, groups=channels)

    ssim_values = local_ssim(blur, a, b)
    return per_image_mean(ssim_values) if per_image else ssim_values.mean()


def check_reduction(reduction: str) -> None:
    """Raise ConfigError unless ``reduction`` is one of REDUCTIONS."""
    if reduction not in REDUCTIONS:
        raise ConfigError(f"loss_reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")


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
    """``content + weight * auxiliary`` (content: MSE or L1), combined over the batch by ``reduction``.

    ``forward`` returns the total and its parts (batch means) for logging.
    """

    def __init__(self, name: str = "mse+frlf", weight: float | None = None, reduction: str = "mean"):
        super().__init__()
        check_loss_name(name)
        check_reduction(reduction)
        self.name = name
        self.content = name.partition("+")[0]
        self.weight = LOSSES[name] if weight is None else float(weight)
        self.reduction = reduction
        self.register_buffer("window", gaussian_window(), persistent=False)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and the detached parts: ``mse`` (always), ``l1`` and ``frlf`` or ``ssim`` (= 1 - SSIM)."""
        per_image = self.reduction == "log"
        with torch.autocast(device_type=output.device.type, enabled=False):
            output, target = output.float(), target.float()
            parts = {"mse": per_image_mean((output - target) ** 2) if per_image else F.mse_loss(output, target)}
            if self.content == "l1":
                parts["l1"] = per_image_mean((output - target).abs()) if per_image else F.l1_loss(output, target)
            if self.name.endswith("+frlf"):
                parts["frlf"] = frequency_reconstruction_loss(output, target, per_image)
            elif self.name == "mse+ssim":
                parts["ssim"] = 1.0 - ssim_torch(output, target, self.window, per_image)
        total = parts[self.content] + sum(self.weight * value for key, value in parts.items() if key not in CONTENT_TERMS)
        if per_image:
            total = (10 / math.log(10)) * torch.log(total + LOG_FLOOR).mean()
        return total, {key: value.detach().mean() for key, value in parts.items()}
