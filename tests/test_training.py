"""Training loop: recipes and overrides, the sharded batch order, bit-exact resume, run-dir outputs.

Uses a tiny in-test dataset whose items depend only on (epoch, index), like the real datasets.
"""

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from deblur.model.checkpoint import CheckpointError, load_checkpoint, load_training_state, read_checkpoint_metadata
from deblur.model.config import ConfigError
from deblur.train.amp import autocast_dtype
from deblur.train.data.blur_synthesis import GENERATOR_COMMITS, GENERATOR_VERSION
from deblur.train.distributed import DistContext, ShardedBatchSampler
from deblur.train.loop import train
from deblur.train.recipes import RECIPE_FOLDER, RECIPES, TrainConfig, load_train_config
from deblur.train.run_paths import RunPaths

CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class TinyPairs(Dataset):
    """Random textures box-blurred; item ``i`` of epoch ``e`` is a pure function of (seed, e, i)."""

    def __init__(self, length: int, size: int, seed: int = 0):
        self.length, self.size, self.seed, self.epoch = length, size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(hash((self.seed, self.epoch, index)) % 2**31)
        sharp = F.interpolate(torch.rand(1, 3, self.size // 4, self.size // 4, generator=generator), scale_factor=4)[0]
        kernel = torch.full((3, 1, 1, 5), 1 / 5)
        blurred = F.conv2d(F.pad(sharp[None], (2, 2, 0, 0), mode="replicate"), kernel, groups=3)[0]
        return blurred, sharp


def smoke(**changes) -> TrainConfig:
    return load_train_config("cpu-lite-smoke", [f"{k}={json.dumps(v)}" for k, v in changes.items()])


def datasets():
    return TinyPairs(8, 32), TinyPairs(2, 40, seed=1)


def run(config: TrainConfig, run_dir, resume: bool = False):
    return train(config, run_dir, CPU, resume=resume, datasets=datasets(), progress=False)


def test_paper_recipe_matches_the_paper():
    paper = load_train_config("paper")
    assert (paper.variant, paper.crop, paper.batch_size, paper.lr, paper.betas) == ("paper", 256, 10, 1e-4, (0.9, 0.999))
    assert (paper.lr_step, paper.lr_step_unit, paper.lr_gamma, paper.epochs) == (1000, "epoch", 0.5, 3000)
    assert (paper.loss, paper.loss_weight, paper.output_init_scale) == ("mse+frlf", None, 1.0)
    assert load_train_config("cpu-lite").variant == "lite" and load_train_config("cpu-lite").max_minutes


# What the Python definitions of the named recipes (train/recipes.py until issue 47) set beyond TrainConfig's
# defaults; the TOML files that replaced them must load to exactly these settings.
RECIPE_SETTINGS = {
    "paper": dict(name="paper", variant="paper", data_kind="gopro", val_crop=None, val_length=100, val_every=2100,
                  checkpoint_every=1000, log_every=100, workers=4),
    "cpu-lite": dict(name="cpu-lite", output_init_scale=0.1, crop=64, val_length=8, batch_size=16, lr=0.002,
                     lr_step=1500, lr_step_unit="step", epochs=100000, max_minutes=30.0, val_every=100,
                     checkpoint_every=100, log_every=25, workers=0),
    "cpu-lite-smoke": dict(name="cpu-lite-smoke", width=8, output_init_scale=0.1, crop=32, train_length=8,
                           val_crop=64, val_length=2, batch_size=2, lr=0.001, lr_step=4, lr_step_unit="step",
                           epochs=1000, max_steps=6, max_minutes=2.0, val_every=3, checkpoint_every=3, log_every=1,
                           workers=0),
}


@pytest.mark.parametrize("name", RECIPES)
def test_named_recipes_are_toml_files_with_the_settings_they_always_had(name, tmp_path):
    expected = dataclasses.replace(TrainConfig(), **RECIPE_SETTINGS[name])
    loaded = load_train_config(name)
    assert loaded == expected and loaded.to_json() == expected.to_json()
    assert load_train_config(str(RECIPE_FOLDER / f"{name}.toml")) == expected  # the same loader as any file
    (tmp_path / "mine.toml").write_text(f'base = "{name}"\n')
    assert load_train_config(str(tmp_path / "mine.toml")) == dataclasses.replace(expected, name="mine")
    assert sorted(path.stem for path in RECIPE_FOLDER.glob("*.toml")) == sorted(RECIPES)


def test_a_toml_file_sets_nulls_by_name(tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text('base = "cpu-lite"\nnull = ["max_minutes", "val_crop"]\n')
    assert (load_train_config(str(config)).max_minutes, load_train_config(str(config)).val_crop) == (None, None)
    for text, message in [('null = "val_crop"', "list of setting names"),
                          ('null = ["val_crop"]\nval_crop = 64', "both set and listed in null"),
                          ('null = ["colour"]', "unknown training config keys"), ('null = ["crop"]', "crop may not be null")]:
        config.write_text('base = "cpu-lite"\n' + text + "\n")
        with pytest.raises(ConfigError, match=message):
            load_train_config(str(config))


def test_overrides_and_config_files(tmp_path):
    config = load_train_config("cpu-lite", ["lr=2e-4", "batch_size=4", "data=../photos", "betas=[0.9, 0.99]",
                                            "photo_scale=[0.5, 1]"])
    assert (config.lr, config.batch_size, config.data, config.betas) == (2e-4, 4, "../photos", (0.9, 0.99))
    assert config.photo_scale == (0.5, 1.0)
    toml = tmp_path / "mine.toml"
    toml.write_text('base = "cpu-lite"\ncrop = 64\nloss = "mse+ssim"\n')
    from_file = load_train_config(str(toml), ["seed=3"])
    assert (from_file.name, from_file.crop, from_file.loss, from_file.seed, from_file.variant) == ("mine", 64, "mse+ssim", 3, "lite")
    for bad, message in [("lr=fast", "wrong type"), ("colour=1", "unknown training config keys"),
                         ("crop=100", "multiple of 8"), ("lr", "key=value"),
                         ("loss=mse+perceptual", "pretrained VGG weights"), ("width=12", "multiple of 8"),
                         ("input_noise_variance=-1e-4", "input_noise_variance"),
                         ("photo_scale=[0.8, 0.5]", "photo_scale"), ("photo_scale=[0.5]", "photo_scale")]:
        with pytest.raises(ConfigError, match=message):
            load_train_config("cpu-lite", [bad])
    with pytest.raises(ConfigError, match="no such config file"):
        load_train_config(str(tmp_path / "missing.json"))


def test_a_recipe_names_the_blur_generator_and_an_older_one_is_refused(tmp_path):
    assert load_train_config("cpu-lite").blur_generator == GENERATOR_VERSION
    recipe = tmp_path / "old.toml"
    recipe.write_text(f'base = "cpu-lite"\nblur_generator = {GENERATOR_VERSION}\n')
    assert load_train_config(str(recipe)).blur_generator == GENERATOR_VERSION
    for version, commit in GENERATOR_COMMITS.items():
        recipe.write_text(f'base = "cpu-lite"\nblur_generator = {version}\n')
        with pytest.raises(ConfigError, match=f"commit {commit} holds it: .*`git worktree add ../deblur-{commit} "
                                              f"{commit}`"):
            load_train_config(str(recipe))
    with pytest.raises(ConfigError, match=f"blur_generator must be {GENERATOR_VERSION}"):
        load_train_config("cpu-lite", [f"blur_generator={GENERATOR_VERSION + 1}"])


def test_config_file_may_start_from_another_file(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "long.toml").write_text(
        'base = "cpu-lite"\ncrop = 64\nseed = 5\n[blur]\nlength = [4.0, 72.0]\nkink_probability = 0.3\n')
    (tmp_path / "gpu.toml").write_text('base = "shared/long.toml"\nbatch_size = 32\n[blur]\nkink_probability = 0.5\n')
    config = load_train_config(str(tmp_path / "gpu.toml"))
    assert (config.name, config.crop, config.seed, config.batch_size) == ("gpu", 64, 5, 32)
    assert config.blur == {"length": [4.0, 72.0], "kink_probability": 0.5}  # tables merge key by key
    (tmp_path / "mixed.toml").write_text('base = "gpu.toml"\nblur_alternate_share = 0.5\n'
                                         '[blur_alternate]\nlength = [4.0, 16.0]\n')
    mixed = load_train_config(str(tmp_path / "mixed.toml"))
    assert (mixed.blur_alternate, mixed.blur_alternate_share) == ({"length": [4.0, 16.0]}, 0.5)
    with pytest.raises(ConfigError, match="blur_alternate_share"):
        load_train_config(str(tmp_path / "gpu.toml"), ["blur_alternate_share=0.5"])
    (tmp_path / "a.toml").write_text('base = "b.toml"\n')
    (tmp_path / "b.toml").write_text('base = "a.toml"\n')
    for text, message in [('base = "a.toml"', "includes itself"), ('base = "mine.toml"', "includes itself"),
                          ('base = "missing.toml"', "no such config file"), ('base = "fast"', "neither a recipe"),
                          ("base = 3", "recipe name or a config file")]:
        (tmp_path / "mine.toml").write_text(text + "\n")
        with pytest.raises(ConfigError, match=message):
            load_train_config(str(tmp_path / "mine.toml"))


def test_batch_order_depends_on_seed_and_epoch_and_shards_across_ranks():
    single = ShardedBatchSampler(10, 4, seed=5)
    single.set_epoch(3)
    batches = list(single)
    assert len(batches) == 2 and all(len(b) == 4 for b in batches)
    assert batches == list(single)  # same (seed, epoch) -> same order
    single.set_epoch(4)
    assert list(single) != batches
    ranks = [ShardedBatchSampler(10, 4, seed=5, rank=r, world_size=2) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(3)
    for k, (a, b) in enumerate(zip(*ranks)):
        assert sorted(a + b) == sorted(batches[k]) and len(a) == len(b) == 2
    resumed = ShardedBatchSampler(10, 4, seed=5)
    resumed.set_epoch(3, start=1)
    assert list(resumed) == batches[1:] and len(resumed) == 1
    with pytest.raises(ConfigError, match="divisible"):
        ShardedBatchSampler(10, 3, seed=0, rank=0, world_size=2)


def weights(run_dir) -> dict[str, torch.Tensor]:
    return load_checkpoint(RunPaths(run_dir).last).state_dict()


def test_resume_continues_bit_for_bit(tmp_path):
    # 8 samples / batch 2 = 4 steps per epoch: the split at step 5 is mid-epoch, and the lr halves every 4 steps.
    straight = run(smoke(max_steps=10, checkpoint_every=5, val_every=5), tmp_path / "straight")
    assert (straight.step, straight.epoch, straight.stopped_by) == (10, 2, "max_steps")

    first = run(smoke(max_steps=5, checkpoint_every=5, val_every=5), tmp_path / "split")
    assert first.step == 5
    second = run(smoke(max_steps=10, checkpoint_every=5, val_every=5), tmp_path / "split", resume=True)
    assert second.step == 10

    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state_a = load_training_state(RunPaths(tmp_path / "straight").state)
    state_b = load_training_state(RunPaths(tmp_path / "split").state)
    assert state_a["scheduler"] == state_b["scheduler"] and state_a["scheduler"]["_last_lr"][0] == pytest.approx(1e-3 / 4)
    exp_avg = lambda s: [v["exp_avg"] for v in s["optimizer"]["state"].values()]  # noqa: E731
    assert all(torch.equal(x, y) for x, y in zip(exp_avg(state_a), exp_avg(state_b)))
    assert straight.last_val == second.last_val


def test_weight_average_is_validated_saved_and_resumed_bit_for_bit(tmp_path):
    config = smoke(max_steps=10, checkpoint_every=5, val_every=5, ema_decay=0.5)
    straight = run(config, tmp_path / "straight")
    run(dataclasses.replace(config, max_steps=5), tmp_path / "split")
    resumed = run(config, tmp_path / "split", resume=True)

    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a) and straight.last_val == resumed.last_val
    state = load_training_state(RunPaths(tmp_path / "straight").state)
    average = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    assert int(state["ema"]["n_averaged"]) == 10
    assert all(torch.equal(a[k], average[k]) for k in a)  # the checkpoint holds the average ...
    assert not all(torch.equal(a[k], state["model"][k]) for k in a)  # ... not the raw weights
    plain = run(smoke(max_steps=10, checkpoint_every=5, val_every=5), tmp_path / "plain")
    assert plain.last_val != straight.last_val
    with pytest.raises(ConfigError, match="ema_decay"):
        smoke(ema_decay=1.0)


def test_run_dir_holds_config_log_plot_and_checkpoints(tmp_path):
    run_dir = tmp_path / "run"
    result = run(smoke(max_steps=6), run_dir)
    paths = RunPaths(run_dir)
    assert json.loads(paths.config.read_text())["name"] == "cpu-lite-smoke"
    records = [json.loads(line) for line in paths.metrics.read_text().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds[:2] == ["start", "baseline"] and kinds[-1] == "end" and kinds.count("val") == 2
    train_records = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train_records] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "mse", "frlf", "lr", "it_s", "epoch"} <= set(train_records[0])
    assert result.input_psnr == pytest.approx(records[1]["psnr"])
    assert paths.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = load_checkpoint(paths.best)
    assert best.config.width == 8 and load_checkpoint(paths.last).config == best.config
    # every checkpoint records the blur generator's version, as the run's config does
    assert json.loads(paths.config.read_text())["blur_generator"] == GENERATOR_VERSION
    for checkpoint in (paths.best, paths.last):
        assert read_checkpoint_metadata(checkpoint)["blur_generator"] == str(GENERATOR_VERSION)
    leftovers = [p.name for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_refuses_to_overwrite_a_run_or_resume_with_changed_settings(tmp_path):
    run_dir = tmp_path / "run"
    run(smoke(max_steps=2), run_dir)
    with pytest.raises(ConfigError, match="already holds a run"):
        run(smoke(max_steps=2), run_dir)
    with pytest.raises(ConfigError, match=r"batch_size \(2 -> 4\)"):
        run(smoke(max_steps=4, batch_size=4), run_dir, resume=True)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        run(smoke(max_steps=2), tmp_path / "empty", resume=True)
    # The initialisation only shapes step 0: a resume may name another, and the run keeps its own.
    assert run(smoke(max_steps=3, output_init_scale=1.0), run_dir, resume=True).step == 3
    assert json.loads(RunPaths(run_dir).config.read_text())["output_init_scale"] == 0.1


def test_time_budget_stops_the_run(tmp_path):
    result = run(smoke(max_steps=None, max_minutes=0.001), tmp_path / "timed")
    assert result.stopped_by == "time" and result.step >= 1
    assert RunPaths(tmp_path / "timed").state.exists()


def test_cpu_mixed_precision_only_when_asked_and_native(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("off", cuda) is None
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        autocast_dtype("fp16", cpu)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with pytest.raises(ConfigError, match="native bf16"):
        autocast_dtype("bf16", cpu)


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no native bf16")
def test_bf16_on_cpu_trains_and_keeps_fp32_weights(tmp_path):
    run_dir = tmp_path / "bf16"
    result = run(smoke(max_steps=4, amp="bf16"), run_dir)
    records = [json.loads(line) for line in RunPaths(run_dir).metrics.read_text().splitlines()]
    assert records[0]["amp"] == "bfloat16"
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records if r["kind"] == "train")
    weights = load_checkpoint(RunPaths(run_dir).last).state_dict()
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32} and result.step == 4


def test_output_init_scale_shrinks_the_initial_residual():
    from deblur.train.loop import scale_output_projection
    from deblur.model.unet import DeblurUNet

    torch.manual_seed(0)
    model = DeblurUNet(smoke().model_config())
    x = torch.rand(1, 3, 32, 32)
    residual = model(x) - x
    scale_output_projection(model, 0.1)
    assert torch.allclose(model(x) - x, 0.1 * residual, atol=1e-6)


def test_init_weights_starts_from_a_checkpoint(tmp_path):
    first = run(smoke(max_steps=2), tmp_path / "first")
    start = RunPaths(tmp_path / "first").last
    tuned = initial_model(smoke(init_weights=str(start)), tmp_path / "tuned")
    assert all(torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), load_checkpoint(start).state_dict().values()))
    assert first.step == 2
    wrong = smoke(init_weights=str(start), dmrfab_growth=32)  # narrower than the checkpoint's 64: refused
    with pytest.raises(CheckpointError, match="does not match"):
        initial_model(wrong, tmp_path / "wrong")


def test_init_weights_grow_into_a_deeper_bottleneck(tmp_path):
    run(smoke(max_steps=2), tmp_path / "first")
    start = RunPaths(tmp_path / "first").last
    deeper = initial_model(smoke(init_weights=str(start), bottleneck_blocks=2), tmp_path / "deeper").eval()
    assert deeper.config.bottleneck_blocks == 2
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(deeper(x), load_checkpoint(start).eval()(x), atol=1e-6)  # the Trainer runs channels_last


def initial_model(config: TrainConfig, run_dir):
    """The model a Trainer starts from, before any step."""
    from deblur.train.loop import Trainer

    train_set, val_set = datasets()
    return Trainer(config, run_dir, CPU, train_set, val_set, progress=False).model


def test_progress_line_shows_rate_and_eta():
    import io

    from deblur.train.progress import Progress, format_duration

    stream = io.StringIO()
    bar = Progress(total=100, stream=stream, plain_interval_s=0)
    bar.began -= 1000.0  # pretend 1000 s have passed: 0.02 it/s, 80 steps left -> 4000 s
    bar.update(20, loss=0.5)
    line = stream.getvalue()
    assert "20/100" in line and "0.02 it/s" in line and "ETA 1:06:40" in line and "loss=0.5" in line
    timed = Progress(total=100, stream=io.StringIO(), deadline=bar.began + 1015.0, plain_interval_s=0)
    timed.began = bar.began
    timed.update(20)
    timed_line = timed.stream.getvalue()
    assert "ETA 00:15" in timed_line  # the time budget ends before the steps do
    assert "20/~20 " in timed_line and "[#######################." in timed_line  # 1000 of 1015 s: filled by time
    assert format_duration(3725) == "1:02:05"


def write_pair_folder(root, count: int, size: tuple[int, int]):
    """A ``pairs`` folder (blur/, sharp/) of box-blurred textures of ``size`` (H, W), not a multiple of 8."""
    import cv2
    import numpy as np

    for side in ("blur", "sharp"):
        (root / side).mkdir(parents=True)
    for index in range(count):
        noise = np.random.default_rng(index).random((size[0] // 4, size[1] // 4, 3)).astype(np.float32)
        sharp = cv2.resize(noise, size[::-1], interpolation=cv2.INTER_NEAREST)
        for side, image in (("sharp", sharp), ("blur", cv2.blur(sharp, (7, 1)))):
            cv2.imwrite(str(root / side / f"{index}.png"), (image * 255).round().astype(np.uint8))
    return root


def test_real_pairs_are_scored_at_each_validation_but_never_choose_the_kept_checkpoint(tmp_path):
    real = write_pair_folder(tmp_path / "real", 2, (37, 45))
    run_dir = tmp_path / "run"
    run(smoke(max_steps=4, real_pairs=str(real)), run_dir)
    records = [json.loads(line) for line in RunPaths(run_dir).metrics.read_text().splitlines()]
    baseline = next(r for r in records if r["kind"] == "baseline")
    vals = [r for r in records if r["kind"] == "val"]
    assert "real_psnr" in baseline and all({"real_psnr", "real_ssim"} <= set(r) for r in vals)
    best = max(vals, key=lambda r: r["psnr"])  # the first of equals, as the loop keeps it
    metadata = read_checkpoint_metadata(RunPaths(run_dir).best)
    assert metadata["step"] == str(best["step"]) and float(metadata["real_pairs_psnr"]) == pytest.approx(
        best["real_psnr"], abs=1e-4)


def test_training_from_a_pair_pool_validates_on_held_out_photos(tmp_path):
    from deblur.train.loop import build_datasets

    pool = write_pair_folder(tmp_path / "pool", 3, (40, 40))
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(3):
        (photos / f"p{index}.png").write_bytes((pool / "sharp" / f"{index}.png").read_bytes())
    config = smoke(data_kind="pairs", data=str(pool), crop=32, val_crop=32, val_length=2, val_data=str(photos))
    train_set, val_set = build_datasets(config)
    assert type(train_set).__name__ == "PairedImages" and tuple(train_set[0][0].shape) == (3, 32, 32)
    assert type(val_set).__name__ == "SyntheticPairs" and len(val_set) == 2 and val_set.split == "val"
