"""research/benchmarks/graph_rewrites.py: each rewrite removes what it targets and keeps the output within 1e-5."""

from collections import Counter

import pytest
import torch

from deblur.export.onnx_export import simplify_preserving_numbers, trace_to_onnx
from deblur.model.config import ModelConfig
from deblur.model.unet import DeblurUNet
from research.benchmarks import graph_rewrites as rewrites


@pytest.fixture(scope="module")
def traced():
    torch.manual_seed(0)
    model = DeblurUNet(ModelConfig(variant="lite", width=8, dmrfab_growth=16, dmrfab_branch=8))
    return simplify_preserving_numbers(trace_to_onnx(model))[0]  # weights as initializers, as exported


def _ops(proto) -> Counter:
    return Counter(node.op_type for node in proto.graph.node)


@pytest.mark.parametrize(("name", "gone", "added"), [
    ("upsampling", "ConvTranspose", "DepthToSpace"),
    ("concat", "Concat", "Conv"),
    ("pixel_gate", None, None),
])
def test_each_rewrite_changes_its_pattern_and_keeps_the_numbers(traced, name, gone, added):
    rewritten, counts = rewrites.rewrite(traced, [name])
    before, after = _ops(traced), _ops(rewritten)
    if gone:
        assert counts[name] > 0 and after[gone] < before[gone] and after[added] > before[added]
    assert rewrites.max_difference(traced, rewritten) <= 1e-5


def test_all_rewrites_together_fold_every_haar_synthesis_and_every_spatial_gate(traced):
    rewritten, counts = rewrites.rewrite(traced)
    assert _ops(rewritten)["ConvTranspose"] == 0
    assert counts["pixel_gate"] == 4  # one spatial attention per MRFAB
    assert rewrites.max_difference(traced, rewritten) <= 1e-5


def test_unknown_rewrite_is_refused(traced):
    with pytest.raises(ValueError, match="unknown rewrite"):
        rewrites.rewrite(traced, ["nope"])


def test_candidates_include_the_runtime_cpu_fusion(deblur_onnx):
    models = rewrites.candidates(deblur_onnx, [])
    fused = models[rewrites.RUNTIME_FUSION]
    assert _ops(fused)["FusedConv"] > _ops(models["unrewritten"])["FusedConv"]
    assert rewrites.max_difference(models["unrewritten"], fused) <= 1e-5
