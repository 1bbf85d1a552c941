#!/usr/bin/env bash
# One device call that trains a recipe at model speed (docs/training.md, "One device call"): it times the
# recipe's model step alone, synthesises its pool on every core, trains from the pool with the real pairs in
# the checkpoint choice, and leaves logs and checkpoints in $OUT to export here. Made here before the call:
#   deblur-pack-photos data/train-all .device-data/photos --quality 77     # 40 MB: a call carries 64 MiB
#   cp -r ../shared/data/real-pairs .device-data/real-pairs               # validation only, never trained on
#   echo /.device-data/ >> .git/info/exclude
# The call (device tool, carry [".device-data"], timeout_s 590):
#   bash configs/gpu-session.sh configs/gpu-real-lite.toml 16000
# Further arguments are key=value settings for the recipe (the CPU check: DEVICE=cpu OUT=/tmp/out bash
# configs/gpu-session.sh configs/gpu-real-lite.toml 64 amp=off batch_size=2 max_steps=4 val_every=2 ...).
set -euo pipefail
recipe=$(realpath "$1")
pool_count=$2
shift 2
repo=$PWD
data=$repo/.device-data
out=${OUT:?set OUT to the folder that comes back}
device=${DEVICE:-cuda}

work=$(mktemp -d /tmp/deblur-session.XXXXXX)  # package tree, recipe, pool and run: fresh every call
trap 'rm -rf "$work"' EXIT
# The checkout's deblur/ would shadow the installed layout (pyproject's package-dir): build it in $work.
mkdir -p "$work/tree/deblur" && cp -r deblur/. "$work/tree/deblur/"
for part in model demo train export calibration runtime; do cp -r "$part" "$work/tree/deblur/$part"; done
export PYTHONPATH=$work/tree
cd "$work"

{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; nproc; } | tee "$out/machine.txt"

# The recipe with this machine's paths; without PyAV its H.264 share becomes JPEG (same compressed share).
python3 - "$recipe" "$repo" "$data" "$work/recipe.json" "$@" <<'EOF' | tee "$out/recipe.txt"
import importlib.util, json, sys
from deblur.train.recipes import load_train_config
recipe, repo, data, target, *settings = sys.argv[1:]
config = load_train_config(recipe).to_dict()
config["init_weights"] = f"{repo}/{config['init_weights']}" if config["init_weights"] else None
config["real_pairs"] = f"{data}/real-pairs"
blur = config["blur"] or {}
if blur.get("h264_probability") and importlib.util.find_spec("av") is None:
    h264, jpeg = blur["h264_probability"], blur.get("jpeg_probability", 0.0)
    blur["h264_probability"], blur["jpeg_probability"] = 0.0, round(h264 + (1 - h264) * jpeg, 4)
    print(f"no PyAV here: H.264 round trips ({h264}) replaced by JPEG (jpeg_probability {blur['jpeg_probability']})")
for item in settings:
    key, _, text = item.partition("=")
    try:
        config[key] = json.loads(text)
    except json.JSONDecodeError:
        config[key] = text
json.dump(config, open(target, "w"), indent=1)
print(json.dumps(config))
EOF

python3 "$repo/benchmarks/data_throughput.py" --photos "$data/photos" --count 16 --config "$work/recipe.json" \
  --device "$device" 2>&1 | tail -n 9 | tee "$out/step_split.txt"
python3 -c 'import sys; from deblur.console import deblur_synth_pool; sys.exit(deblur_synth_pool())' \
  "$work/recipe.json" --data "$data/photos" -o "$work/pool" --count "$pool_count" --quiet 2>&1 | tee "$out/pool.txt"
python3 -m deblur.train.cli "$work/recipe.json" --data "$work/pool" --set "val_data=$data/photos" -o "$work/run" \
  --quiet --device "$device" 2>&1 | tail -n 40 | tee "$out/train.txt"
mkdir -p "$out/run"
cp "$work/run/metrics.jsonl" "$work/run/config.json" "$work/run/checkpoints/best.safetensors" "$out/run/"
