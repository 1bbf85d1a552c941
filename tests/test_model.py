"""The network: shapes, size checks, ablations, parameter counts and MACs."""

import pytest
import torch

from deblur.model.complexity import count_macs, count_parameters
from deblur.model.config import ABLATIONS, VARIANTS, ConfigError, ModelConfig, build_config
from deblur.model.unet import DeblurUNet

SMALL = ModelConfig(variant="test", width=8)


@pytest.mark.parametrize("h,w", [(8, 8), (16, 40), (64, 48), (120, 96)])
def test_output_shape_equals_input_shape(h, w):
    model = DeblurUNet(SMALL).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 3, h, w))
    assert y.shape == (2, 3, h, w)
    assert 0.0 <= y.min() and y.max() <= 1.0


@pytest.mark.parametrize("h,w", [(30, 32), (32, 36), (7, 7)])
def test_sizes_not_multiple_of_8_are_rejected(h, w):
    with pytest.raises(ValueError, match="multiples of 8"):
        DeblurUNet(SMALL)(torch.rand(1, 3, h, w))


def test_non_rgb_input_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        DeblurUNet(SMALL)(torch.rand(1, 1, 16, 16))


@pytest.mark.parametrize("ablation", list(ABLATIONS))
def test_every_ablation_builds_runs_and_trains(ablation):
    config = build_config("lite", ablation)
    model = DeblurUNet(config)
    x = torch.rand(1, 3, 32, 32)
    y = model(x)
    assert y.shape == x.shape
    y.mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads), "every parameter must be reachable from the output"
    assert config.ablation == ablation


def test_ablations_change_the_structure():
    counts = {name: count_parameters(DeblurUNet(build_config("lite", name))) for name in ABLATIONS}
    assert counts["no-dmrfab"] < counts["no-attention"] < counts["full"]
    assert counts["no-mlff"] < counts["full"]
    assert counts["no-wavelet"] > counts["full"]  # learned resampling replaces the fixed Haar kernels
    assert len(set(counts.values())) == len(counts)


def test_paper_parameter_count_is_near_the_papers_24_4_mb():
    params = count_parameters(DeblurUNet(VARIANTS["paper"]))
    # Paper Table 5: 24.4 MB of fp32 parameters, i.e. about 6.1 M.
    assert 5.5e6 <= params <= 6.5e6


def test_lite_is_much_smaller_than_paper():
    lite = count_parameters(DeblurUNet(VARIANTS["lite"]))
    assert lite < 0.3 * count_parameters(DeblurUNet(VARIANTS["paper"]))


def test_macs_scale_with_pixels():
    config = VARIANTS["lite"]
    small, large = count_macs(config, 64, 64), count_macs(config, 128, 128)
    assert small > 0
    assert large == pytest.approx(4 * small, rel=0.01)  # fully convolutional; GAP-side 1x1s are negligible


def test_macs_of_a_single_conv_layer_by_hand():
    from deblur.model.complexity import _macs

    conv = torch.nn.Conv2d(4, 6, 3, padding=1)
    x = torch.rand(1, 4, 5, 5)
    assert _macs(conv, x, conv(x)) == 6 * 25 * 4 * 9


@pytest.mark.parametrize("bad", [{"width": 12}, {"width": 0}, {"dmrfab_growth": 0}])
def test_bad_configs_are_rejected(bad):
    with pytest.raises(ConfigError):
        ModelConfig(**bad)


def test_unknown_variant_and_ablation_are_rejected():
    with pytest.raises(ConfigError, match="unknown variant"):
        build_config("huge")
    with pytest.raises(ConfigError, match="unknown ablation"):
        build_config("lite", "no-everything")
