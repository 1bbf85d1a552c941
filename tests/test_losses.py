"""Losses: FRLF matches Eq. 17, stays float32 under autocast, SSIM loss matches the numpy SSIM,
the perceptual loss refuses clearly."""

import numpy as np
import pytest
import torch

from deblur.metrics import ssim as numpy_ssim
from deblur.model.config import ConfigError
from deblur.train.losses import LOSSES, DeblurLoss, frequency_reconstruction_loss, gaussian_window, ssim_torch


def pair(seed: int = 0, shape=(2, 3, 32, 32)) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=generator)
    output = (target + 0.1 * torch.randn(shape, generator=generator)).clamp(0, 1)
    return output, target


def test_frlf_is_mean_l1_of_real_and_imaginary_fft_parts():
    output, target = pair()
    diff = torch.fft.rfft2(output) - torch.fft.rfft2(target)
    expected = (diff.real.abs().sum() + diff.imag.abs().sum()) / (2 * diff.numel())
    assert torch.allclose(frequency_reconstruction_loss(output, target), expected, rtol=1e-5)
    assert frequency_reconstruction_loss(target, target) == 0


def test_frlf_runs_in_float32_under_autocast():
    output, target = pair()
    reference = frequency_reconstruction_loss(output, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = frequency_reconstruction_loss(output, target)
        total, _ = DeblurLoss("mse+frlf")(output.bfloat16(), target)
    assert value.dtype == torch.float32 and total.dtype == torch.float32
    assert torch.equal(value, reference)


def test_total_is_mse_plus_weighted_term_and_has_gradients():
    output, target = pair()
    output.requires_grad_(True)
    loss_fn = DeblurLoss("mse+frlf")
    total, parts = loss_fn(output, target)
    assert loss_fn.weight == 0.1 == LOSSES["mse+frlf"]
    assert torch.allclose(total, torch.mean((output - target) ** 2) + 0.1 * frequency_reconstruction_loss(output, target))
    assert set(parts) == {"mse", "frlf"}
    total.backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0

    mse_only, parts = DeblurLoss("mse")(output, target)
    assert set(parts) == {"mse"} and torch.allclose(mse_only, torch.mean((output - target) ** 2))
    assert DeblurLoss("mse+frlf", weight=0.5).weight == 0.5


def test_l1_content_loss_replaces_mse_and_still_logs_it():
    output, target = pair(4)
    output.requires_grad_(True)
    total, parts = DeblurLoss("l1+frlf")(output, target)
    l1 = torch.mean((output - target).abs())
    assert torch.allclose(total, l1 + 0.1 * frequency_reconstruction_loss(output, target))
    assert set(parts) == {"mse", "l1", "frlf"} and torch.allclose(parts["mse"], torch.mean((output - target) ** 2))
    total.backward()
    # away from ties, L1's gradient is sign(error) / N: every pixel pulls alike, whatever its error
    content_grad = output.grad - 0.1 * torch.autograd.grad(frequency_reconstruction_loss(output, target), output)[0]
    assert torch.allclose(content_grad.abs(), torch.full_like(output, 1 / output.numel()), rtol=1e-3, atol=1e-9)


def test_ssim_loss_matches_numpy_ssim_and_is_differentiable():
    output, target = pair(1, shape=(1, 3, 48, 40))
    window = gaussian_window()
    value = ssim_torch(output.double(), target.double(), window.double())
    as_image = lambda t: t[0].permute(1, 2, 0).double().numpy()  # noqa: E731
    assert value.item() == pytest.approx(numpy_ssim(as_image(output), as_image(target)), abs=1e-6)
    assert ssim_torch(target, target, window).item() == pytest.approx(1.0, abs=1e-6)

    output.requires_grad_(True)
    total, parts = DeblurLoss("mse+ssim")(output, target)
    assert set(parts) == {"mse", "ssim"} and parts["ssim"].item() == pytest.approx(1 - value.item(), abs=1e-5)
    total.backward()
    assert torch.isfinite(output.grad).all()


def test_perceptual_loss_refuses_with_a_reason():
    with pytest.raises(ConfigError, match="pretrained VGG weights"):
        DeblurLoss("mse+perceptual")
    with pytest.raises(ConfigError, match="unknown loss"):
        DeblurLoss("l1")


def test_gaussian_window_is_normalised_and_symmetric():
    window = gaussian_window(11, 1.5)
    assert window.shape == (11,) and window.sum().item() == pytest.approx(1.0)
    assert np.allclose(window.numpy(), window.flip(0).numpy())


def test_log_reduction_averages_each_images_loss_in_decibels():
    output, target = pair(2, shape=(3, 3, 32, 24))
    output = target + (output - target) * torch.tensor([1.0, 0.1, 0.01]).view(3, 1, 1, 1)
    total, parts = DeblurLoss("mse+frlf", reduction="log")(output, target)
    singles = [DeblurLoss("mse+frlf")(output[i:i + 1], target[i:i + 1])[0] for i in range(3)]
    assert torch.allclose(total, torch.stack([10 * torch.log10(single) for single in singles]).mean())
    assert torch.allclose(parts["mse"], torch.mean((output - target) ** 2))


def test_log_reduction_weighs_an_image_by_the_inverse_of_its_own_error():
    output, target = pair(3, shape=(1, 3, 16, 16))
    target = target.repeat(2, 1, 1, 1)
    output = target + (output - target[:1]) * torch.tensor([1.0, 0.01]).view(2, 1, 1, 1)  # one error, 100x apart
    norms = {}
    for reduction in ("mean", "log"):
        guess = output.clone().requires_grad_(True)
        DeblurLoss("mse", reduction=reduction)(guess, target)[0].backward()
        norms[reduction] = (guess.grad[0].norm() / guess.grad[1].norm()).item()
    # MSE's gradient is proportional to the error; divided by the image's MSE it becomes inversely proportional.
    assert norms["mean"] == pytest.approx(100, rel=1e-3)
    assert norms["log"] == pytest.approx(0.01, rel=0.05)  # within the log floor


def test_unknown_reduction_is_a_config_error():
    with pytest.raises(ConfigError, match="loss_reduction"):
        DeblurLoss("mse", reduction="sum")
