"""Estimated TensorRT FP16 frame rates on Jetson boards, derived from the measured MACs (not measured fps).

fps = efficiency * dense_fp16_flops / (2 * MACs per frame), with
- dense FP16 FLOP/s = NVIDIA's headline sparse-INT8 "AI TOPS" / 4 (sparsity doubles, INT8 doubles over
  FP16). For Orin NX and AGX Orin the headline includes the DLAs, so these rows are optimistic;
- efficiency = 0.15 by default: this network is dominated by depthwise 3x3 and 1x1 convolutions, which
  run far below tensor-core peak. Replace it once a board has been measured (``trtexec --loadEngine``).

Example:  python -m benchmarks.jetson_estimate --efficiency 0.15
"""

import argparse
from pathlib import Path

from deblur.model.checkpoint import read_checkpoint_config
from deblur.model.complexity import count_macs
from deblur.model.config import VARIANTS

BUNDLED_WEIGHTS = Path(__file__).resolve().parent.parent / "train" / "weights" / "deblur-lite.safetensors"

# board -> headline sparse INT8 TOPS (NVIDIA Jetson Orin specifications; "Super" = JetPack 6.2 MAXN SUPER mode)
BOARDS = {
    "Orin Nano 4GB": 20,
    "Orin Nano 8GB": 40,
    "Orin Nano 8GB Super": 67,
    "Orin NX 16GB": 100,
    "AGX Orin 64GB": 275,
}
SIZES = ((360, 640), (720, 1280), (1080, 1920))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--efficiency", type=float, default=0.15, help="fraction of dense FP16 peak achieved")
    args = parser.parse_args()
    header = " | ".join(f"{w}x{h}" for h, w in SIZES)
    print(f"Estimated fps (efficiency {args.efficiency:.2f} of dense FP16 peak; estimates, not measurements)\n")
    print(f"| network | board | {header} |\n|" + " --- |" * (2 + len(SIZES)))
    bundled = read_checkpoint_config(BUNDLED_WEIGHTS)
    networks = {f"bundled (lite, C = {bundled.width})": bundled,
                **{f"{name} (C = {VARIANTS[name].width})": VARIANTS[name] for name in ("lite", "paper")}}
    for name, config in networks.items():
        macs = [count_macs(config, h, w) for h, w in SIZES]
        for board, tops in BOARDS.items():
            flops = args.efficiency * tops * 1e12 / 4
            cells = " | ".join(f"{flops / (2 * m):.1f}" for m in macs)
            print(f"| {name} | {board} | {cells} |")


if __name__ == "__main__":
    main()
