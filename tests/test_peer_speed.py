"""benchmarks/peer_speed.py and peer_models.py: the peers are the published networks, and the table has a row per model."""

import subprocess

import pytest
import torch

from benchmark_scripts import ROOT, benchmark_command, load_benchmark

peer_models = load_benchmark("peer_models")


def _parameters(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def test_nafnet_w32_has_the_published_size_and_keeps_the_input_shape(one_torch_thread):
    model = peer_models.nafnet_w32().eval()
    assert _parameters(model) == pytest.approx(17.1, rel=0.03)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_mimo_unet_has_the_published_size_and_three_output_scales(one_torch_thread):
    model = peer_models.MIMOUNet().eval()
    assert _parameters(model) == pytest.approx(6.8, rel=0.03)
    with torch.no_grad():
        outputs = model(torch.rand(1, 3, 64, 64))
        full = peer_models.FullResolutionOutput(model)(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outputs] == [(1, 3, 16, 16), (1, 3, 32, 32), (1, 3, 64, 64)]
    assert full.shape == (1, 3, 64, 64)


def test_conv_macs_counts_weights_per_output_value():
    macs = peer_models.conv_macs(lambda: torch.nn.Conv2d(3, 8, 3, padding=1), 16, 32)
    assert macs == 16 * 32 * 8 * 3 * 3 * 3


@pytest.mark.slow  # ~25 s on 2 cores, most of it tracing and slimming NAFNet-w32 (36 blocks)
def test_the_table_has_a_row_per_model():
    done = subprocess.run([*benchmark_command("peer_speed"), "--sizes", "64x64", "--runs", "1",
                           "--threads", "1"], capture_output=True, text=True, check=True, cwd=ROOT)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CPU ")
    rows = [line.strip("|").split("|")[0].strip() for line in lines if line.startswith("| ")][1:]
    assert len(rows) == 4
    assert rows[0].startswith("deblur paper") and rows[1].startswith("deblur-lite bundled")
    assert rows[-2:] == ["NAFNet-w32 (random)", "MIMO-UNet (random)"]
    assert sum(line.startswith(("no GPU present", "GPU columns at")) for line in lines) == 1
