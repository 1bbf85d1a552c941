"""The fixed-kernel Haar transform: exact inverse, energy preservation, fixed buffers."""

import torch

from deblur.model.haar import HaarDWT, HaarIWT


def test_dwt_then_iwt_is_identity_in_float64():
    torch.manual_seed(0)
    for channels, h, w in [(1, 8, 8), (3, 16, 24), (5, 32, 18)]:
        x = torch.randn(2, channels, h, w, dtype=torch.float64)
        dwt, iwt = HaarDWT(channels).double(), HaarIWT(channels).double()
        coeffs = dwt(x)
        assert coeffs.shape == (2, 4 * channels, h // 2, w // 2)
        assert torch.allclose(iwt(coeffs), x, atol=1e-10, rtol=0)


def test_dwt_preserves_energy():
    torch.manual_seed(1)
    x = torch.randn(3, 4, 32, 32, dtype=torch.float64)
    coeffs = HaarDWT(4).double()(x)
    assert torch.allclose(coeffs.pow(2).sum(), x.pow(2).sum(), rtol=1e-12)


def test_dwt_bands_of_a_constant_image():
    x = torch.full((1, 1, 4, 4), 3.0, dtype=torch.float64)
    coeffs = HaarDWT(1).double()(x)
    assert torch.allclose(coeffs[:, 0], torch.full((1, 2, 2), 6.0, dtype=torch.float64))  # LL = 2 * mean
    assert torch.count_nonzero(coeffs[:, 1:]) == 0  # no detail in a flat image


def test_haar_kernels_are_buffers_not_parameters():
    dwt, iwt = HaarDWT(8), HaarIWT(8)
    assert list(dwt.parameters()) == [] and list(iwt.parameters()) == []
    assert dwt.state_dict() == {} and iwt.state_dict() == {}
