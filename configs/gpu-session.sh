#!/usr/bin/env bash
# One device call that trains pool recipes at model speed (docs/training.md, "One device call"): it times each
# recipe's model step alone, synthesises one pool on every core from the first recipe (all must share its
# crops, blur, photo scale and texture threshold), trains every recipe from it at once on the one GPU with
# the real pairs scored at every validation (watched, never choosing), and leaves the logs and checkpoints in $OUT.
# Made here before the call:
#   deblur-pack-photos data/train-all .device-data/photos --quality 77     # 40 MB: a call carries 64 MiB
#   cp -r ../shared/data/real-pairs .device-data/real-pairs               # validation only, never trained on
#   echo /.device-data/ >> .git/info/exclude
# The call (device tool, carry [".device-data"], timeout_s 600):
#   bash configs/gpu-session.sh 12000 configs/gpu-real-lite.toml configs/gpu-real-paper.toml
# Training gets what is left of BUDGET_S (default 540 s from the start) after the pool, less 75 s to finish.
# Settings after `--` (key=value) apply to every recipe; the slow test runs it on the CPU with DEVICE=cpu.
set -euo pipefail
pool_count=$1
shift
recipes=()
while (($#)) && [[ $1 != -- ]]; do recipes+=("$(realpath "$1")"); shift; done
(($#)) && shift
((${#recipes[@]} >= 1 && ${#recipes[@]} <= 3)) || { echo "error: give 1 to 3 recipes (\$OUT returns 8 files)" >&2; exit 2; }
repo=$PWD
data=$repo/.device-data
out=${OUT:?set OUT to the folder that comes back}
device=${DEVICE:-cuda}
budget=${BUDGET_S:-540}

work=$(mktemp -d /tmp/deblur-session.XXXXXX)  # package tree, recipes, pool and runs: fresh every call
trap 'rm -rf "$work"' EXIT
# The checkout's deblur/ would shadow the installed layout (pyproject's package-dir): build it in $work.
mkdir -p "$work/tree/deblur" && cp -r deblur/. "$work/tree/deblur/"
for part in model demo train export calibration runtime; do cp -r "$part" "$work/tree/deblur/$part"; done
export PYTHONPATH=$work/tree PYTHONUNBUFFERED=1
cd "$work"
log=$out/session.txt

{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; echo "cores $(nproc)"; } | tee "$log"

# Each recipe with this machine's paths as $work/NAME.json; without PyAV its H.264 share becomes JPEG (the
# same compressed share). Refused unless every recipe makes the first one's pool.
python3 - "$repo" "$data" "$work" "${recipes[@]}" -- "$@" <<'EOF' | tee -a "$log"
import importlib.util, json, sys
from pathlib import Path
from deblur.train.recipes import load_train_config
repo, data, work, *rest = sys.argv[1:]
split = rest.index("--")
recipes, settings = rest[:split], rest[split + 1:]
POOL_KEYS = ("crop", "blur", "photo_scale", "min_texture")
configs = {Path(recipe).stem: load_train_config(recipe, settings).to_dict() for recipe in recipes}
first_name, first = next(iter(configs.items()))
for name, config in configs.items():  # all compared before any is changed below
    differ = [key for key in POOL_KEYS if config[key] != first[key]]
    if differ:
        sys.exit(f"error: {name} differs from {first_name} in {differ}: one pool cannot feed both")
for name, config in configs.items():
    config["init_weights"] = f"{repo}/{config['init_weights']}" if config["init_weights"] else None
    config["real_pairs"] = f"{data}/real-pairs"
    blur = config["blur"] or {}
    if blur.get("h264_probability") and importlib.util.find_spec("av") is None:
        h264, jpeg = blur["h264_probability"], blur.get("jpeg_probability", 0.0)
        blur["h264_probability"], blur["jpeg_probability"] = 0.0, round(h264 + (1 - h264) * jpeg, 4)
        print(f"{name}: no PyAV here, H.264 round trips ({h264}) become JPEG (jpeg_probability {blur['jpeg_probability']})")
    json.dump(config, open(f"{work}/{name}.json", "w"), indent=1)
    print(f"{name}: {json.dumps(config)}")
EOF
names=()
for recipe in "${recipes[@]}"; do names+=("$(basename "${recipe%.*}")"); done
configs=()
for name in "${names[@]}"; do configs+=(--config "$work/$name.json"); done

python3 "$repo/benchmarks/data_throughput.py" --photos "$data/photos" --count 16 "${configs[@]}" --device "$device" \
  2>&1 | tee -a "$log"
python3 -c 'import sys; from deblur.console import deblur_synth_pool; sys.exit(deblur_synth_pool())' \
  "$work/${names[0]}.json" --data "$data/photos" -o "$work/pool" --count "$pool_count" --quiet 2>&1 | tee -a "$log"

minutes=$(python3 -c "import sys; m = ($budget - $SECONDS - 75) / 60
sys.exit(f'error: {m:.1f} training minutes left of BUDGET_S=$budget') if m < 1 else print(round(m, 2))")
echo "training ${names[*]} for ${minutes} minutes each, at once" | tee -a "$log"
pids=()
for name in "${names[@]}"; do
  python3 -m deblur.train.cli "$work/$name.json" --data "$work/pool" --set "val_data=$data/photos" -o "$work/$name" \
    --max-minutes "$minutes" --quiet --device "$device" > "$work/$name.log" 2>&1 &
  pids+=($!)
done
# $OUT returns files of at most 16 MiB: a larger one (the paper network's checkpoint, 23 MB) comes back in
# 15 MiB parts, joined here by `cat best.safetensors.part-* > best.safetensors`.
copy_back() {
  if (($(stat -c %s "$1") > 15 * 1024 * 1024)); then split -b 15M "$1" "$2/$(basename "$1").part-"; else cp "$1" "$2/"; fi
}
failed=0
for index in "${!names[@]}"; do
  wait "${pids[$index]}" || failed=1
  name=${names[$index]}
  { echo "== ${name}"; tail -n 20 "$work/$name.log"; } | tee -a "$log"
  mkdir -p "$out/$name"
  for file in metrics.jsonl checkpoints/best.safetensors; do
    if [[ -f $work/$name/$file ]]; then copy_back "$work/$name/$file" "$out/$name"; else echo "$name: no $file" | tee -a "$log"; failed=1; fi
  done
done
exit "$failed"
