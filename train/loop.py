"""The training loop: Adam + step-halving lr, an optional moving average of the weights, optional CUDA
mixed precision, DDP, atomic checkpoints and a bit-exact resume.

The run directory's layout is ``run_paths.RunPaths``; resume policy ``resume``; AMP policy ``amp``; RNG
capture ``rng``.

With ``real_pairs`` set (a ``pairs`` folder of real blurred/sharp images, e.g. ../shared/data/real-pairs),
each validation also scores those whole images, for watching only: the kept checkpoint is chosen on the
synthetic held-out crops alone. Never train on those pairs, nor choose by them: they are a proxy to report.

With ``ema_decay`` set, validation and both ``.safetensors`` checkpoints use the exponential moving
average of the weights (as Real-ESRGAN and NAFNet's trainers do): it smooths out the step-to-step noise of
small batches without lowering the learning rate.

Only rank 0 writes files.
"""

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset

from deblur.atomic import atomic_write
from deblur.model.checkpoint import CheckpointError, load_training_state, save_checkpoint, save_training_state
from deblur.model.config import ConfigError
from deblur.model.growth import load_initial_weights
from deblur.model.scale_space import build_model

from .amp import autocast_dtype
from .distributed import DistContext, ShardedBatchSampler
from .evaluation import dataset_pairs, evaluate, mean_scores, model_restorer
from .losses import DeblurLoss
from .progress import Progress
from .recipes import TrainConfig
from .resume import check_resumable, read_run_config
from .rng import rng_state, set_rng_state
from .run_log import MetricsLog, plot_metrics
from .run_paths import RunPaths


@dataclass(frozen=True)
class TrainResult:
    step: int
    epoch: int
    stopped_by: str  # "max_steps", "epochs" or "time"
    input_psnr: float | None
    last_val: dict | None
    best_psnr: float | None  # the best selection score (the synthetic validation PSNR without real pairs)


def build_datasets(config: TrainConfig) -> tuple[Dataset, Dataset]:
    """The train and val splits named by the config (``deblur.train.data.build_dataset``)."""
    from .data import build_dataset

    if config.data is None:
        raise ConfigError("no data folder given: pass --data DIR (or set data=DIR)")
    blur, alternate_blur = config.blur_settings()
    alternate = dict(alternate_blur=alternate_blur, alternate_share=config.blur_alternate_share)
    common = dict(seed=config.seed, blur=blur, realblur_subset=config.realblur_subset,
                  noise_variance=config.input_noise_variance)
    if config.data_kind == "synthetic":
        common.update(min_texture=config.min_texture, photo_scale=config.photo_scale, **alternate)
    train = build_dataset(
        config.data_kind, config.data, "train", crop=config.crop, augment=config.augment,
        length=config.train_length, **common,
    )
    if config.val_data is None:
        val = build_dataset(config.data_kind, config.data, "val", crop=config.val_crop, augment=False,
                            length=config.val_length, **common)
    else:  # e.g. training from a pre-synthesised pool: validate on fresh pairs of held-out photos
        val = build_dataset("synthetic", config.val_data, "val", crop=config.val_crop, length=config.val_length,
                            seed=config.seed, blur=blur, min_texture=config.min_texture, noise_variance=0.0,
                            **alternate)
    return train, val


def build_real_pairs(config: TrainConfig) -> Dataset | None:
    """Whole real (blurred, sharp) images from ``config.real_pairs`` for validation only, or None."""
    from .data import build_dataset

    if config.real_pairs is None:
        return None
    return build_dataset("pairs", config.real_pairs, "test", crop=None, noise_variance=0.0)


def scale_output_projection(model: nn.Module, scale: float) -> None:
    """Multiply the initial weights of the network's last 1x1 conv (the decoder's DSC(C -> 3)) by ``scale``.

    The paper does not state its initialisation. With PyTorch's default the untrained residual has a
    standard deviation of ~0.18 (an output ~10-20 dB PSNR below its input), which short CPU runs spend
    their first minutes undoing; 0.1 starts close to the identity. Zero would start exactly there but
    stalls: nothing upstream of a zero layer gets a gradient (measured: no change in 235 steps).
    """
    projection = getattr(model, "net", model).dec1[-1].pointwise  # a scale-space model's network
    with torch.no_grad():
        projection.weight.mul_(scale)
        projection.bias.mul_(scale)


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that learn (a scale-space model with a frozen network: the gate's)."""
    return [parameter for parameter in model.parameters() if parameter.requires_grad]


def weight_average(model: nn.Module, decay: float | None) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights (``decay`` per step), or None without ``decay``."""
    if decay is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def weight_checksum(model: torch.nn.Module) -> float:
    """Sum of all parameters in float64: a cheap fingerprint to compare ranks or runs."""
    return float(sum(p.detach().double().sum() for p in model.parameters()))


class Trainer:
    """One training run in ``run_dir``; ``run()`` trains until a stop condition and returns a TrainResult."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        ctx: DistContext,
        train_set: Dataset,
        val_set: Dataset,
        resume: bool = False,
        progress: bool = True,
        real_set: Dataset | None = None,
    ):
        self.config, self.ctx = config, ctx
        self.paths = RunPaths(Path(run_dir))
        self.train_set, self.val_set, self.real_set = train_set, val_set, real_set
        self.show_progress = progress and ctx.is_main
        self.log = MetricsLog(self.paths.metrics)
        device = ctx.device

        torch.manual_seed(config.seed)
        # channels_last: ~15 % faster lite training steps on a 2-core CPU (measured), and the layout GPU AMP favours.
        self.model = build_model(config.model_config()).to(device, memory_format=torch.channels_last)
        if config.init_weights is not None:
            start = load_initial_weights(Path(config.init_weights), config.model_config())
            self.model.load_state_dict(start.state_dict())
        elif config.output_init_scale != 1.0:
            scale_output_projection(self.model, config.output_init_scale)
        if not config.train_network:
            self.model.freeze_network()
        self.ema = weight_average(self.model, config.ema_decay)
        self.loss_fn = DeblurLoss(config.loss, config.loss_weight, config.loss_reduction).to(device)
        self.optimizer = torch.optim.Adam(trainable(self.model), lr=config.lr, betas=config.betas)
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, step_size=config.lr_step, gamma=config.lr_gamma
        )
        self.amp_dtype = autocast_dtype(config.amp, device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.sampler = ShardedBatchSampler(len(train_set), config.batch_size, config.seed, ctx.rank, ctx.world_size)

        self.step = self.epoch = self.batch_in_epoch = 0
        self.best_psnr: float | None = None
        self.baseline: dict | None = None
        self.elapsed_before = 0.0
        self.last_val: dict | None = None
        self.resumed_from: int | None = None
        if resume:
            self._load_state()
        self.net = DistributedDataParallel(self.model) if ctx.is_distributed else self.model

    @property
    def evaluated_model(self) -> nn.Module:
        """The weights that are validated and saved as checkpoints: the moving average when there is one."""
        return self.model if self.ema is None else self.ema.module

    # -- state -------------------------------------------------------------------------------

    def _load_state(self) -> None:
        if not self.paths.state.exists():
            raise CheckpointError(f"{self.paths.state}: nothing to resume (no training state in {self.paths.root})")
        state = load_training_state(self.paths.state)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
            self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
            self.best_psnr, self.baseline = state["best_psnr"], state["baseline"]
            self.elapsed_before = state["elapsed_s"]
            set_rng_state(state["rng"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{self.paths.state}: training state does not fit this run ({exc})") from exc
        self.resumed_from = self.step

    def _save_state(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_psnr": self.best_psnr,
            "baseline": self.baseline,
            "elapsed_s": self.elapsed(),
            "rng": rng_state(),
        }
        extra = {"step": str(self.step), "epoch": str(self.epoch), "blur_generator": str(self.config.blur_generator)}
        save_checkpoint(self.evaluated_model, self.paths.last, extra=extra)
        save_training_state(state, self.paths.state)

    # -- the loop ----------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def total_steps(self) -> int:
        by_epochs = self.config.epochs * self.sampler.batches_per_epoch
        return min(by_epochs, self.config.max_steps) if self.config.max_steps else by_epochs

    def stop_reason(self) -> str | None:
        if self.config.max_steps is not None and self.step >= self.config.max_steps:
            return "max_steps"
        if self.epoch >= self.config.epochs:
            return "epochs"
        if self.config.max_minutes is not None and self.ctx.any(self.elapsed() >= self.config.max_minutes * 60):
            return "time"
        return None

    def run(self) -> TrainResult:
        self.started = time.monotonic()
        if self.ctx.is_main:
            self._start_log()
        deadline = None
        if self.config.max_minutes is not None:
            deadline = self.started + self.config.max_minutes * 60 - self.elapsed_before
        progress = Progress(self.total_steps(), start=self.step, deadline=deadline, enabled=self.show_progress)
        self.model.train()
        stopped_by = self.stop_reason()
        sums: dict[str, torch.Tensor] = {}
        interval_start, interval_steps = time.monotonic(), 0
        while stopped_by is None:
            for blurred, sharp in self._epoch_loader():
                parts = self._train_step(blurred, sharp)
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0) + value
                interval_steps += 1
                self._advance()
                stopped_by = self.stop_reason()
                if self.ctx.is_main and (self.step % self.config.log_every == 0 or stopped_by):
                    rate = interval_steps / max(time.monotonic() - interval_start, 1e-9)
                    record = {k: float(v) / interval_steps for k, v in sums.items()}
                    self._log_train(record, rate)
                    progress.update(self.step, loss=record["loss"], lr=self.scheduler.get_last_lr()[0])
                    sums, interval_start, interval_steps = {}, time.monotonic(), 0
                if self.step % self.config.val_every == 0 or stopped_by:
                    self._validate()
                if self.step % self.config.checkpoint_every == 0 or stopped_by:
                    self._checkpoint()
                if stopped_by:
                    break
        progress.close()
        checksum = weight_checksum(self.model)
        print(f"rank {self.ctx.rank}/{self.ctx.world_size}: stopped by {stopped_by} at step {self.step}, "
              f"weights checksum {checksum:.12e}", flush=True)
        if self.ctx.is_main:
            self.log.append({"kind": "end", "step": self.step, "epoch": self.epoch, "stopped_by": stopped_by,
                             "elapsed_s": round(self.elapsed(), 3), "checksum": checksum})
        self.ctx.barrier()
        input_psnr = self.baseline["psnr"] if self.baseline else None
        return TrainResult(self.step, self.epoch, stopped_by, input_psnr, self.last_val, self.best_psnr)

    def _epoch_loader(self) -> DataLoader:
        self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(self.epoch)
        # A per-epoch generator makes worker seeds depend on (seed, epoch) only, not on the global RNG.
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.epoch)
        return DataLoader(
            self.train_set,
            batch_sampler=self.sampler,
            num_workers=self.config.workers,
            generator=generator,
            pin_memory=self.ctx.device.type == "cuda",
        )

    def _train_step(self, blurred: torch.Tensor, sharp: torch.Tensor) -> dict[str, torch.Tensor]:
        device = self.ctx.device
        blurred = blurred.to(device, memory_format=torch.channels_last, non_blocking=True)
        sharp = sharp.to(device, memory_format=torch.channels_last, non_blocking=True)
        with torch.autocast(device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            output = self.net(blurred)
        loss, parts = self.loss_fn(output, sharp)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return {"loss": loss.detach(), **parts}

    def _advance(self) -> None:
        """Count the step; move to the next epoch after its last batch; step the lr schedule."""
        self.step += 1
        self.batch_in_epoch += 1
        if self.config.lr_step_unit == "step":
            self.scheduler.step()
        if self.batch_in_epoch == self.sampler.batches_per_epoch:
            self.epoch += 1
            self.batch_in_epoch = 0
            if self.config.lr_step_unit == "epoch":
                self.scheduler.step()

    # -- rank-0 side effects -----------------------------------------------------------------

    def _start_log(self) -> None:
        atomic_write(self.paths.config, lambda tmp: tmp.write_text(self.config.to_json() + "\n"))
        if self.resumed_from is not None:
            self.log.rewind(self.step)
            self._remove_stale_temp_files()
        elif self.paths.metrics.exists():
            self.log.rewind(-1)  # a fresh start in a folder whose run died before its first checkpoint
        self.log.append({
            "kind": "start", "step": self.step, "world_size": self.ctx.world_size, "device": str(self.ctx.device),
            "threads": torch.get_num_threads(), "resumed_from": self.resumed_from,
            "amp": str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "off",
            "train_samples": len(self.train_set), "val_samples": len(self.val_set),
            "batches_per_epoch": self.sampler.batches_per_epoch,
        })
        print(f"rank 0/{self.ctx.world_size}: training {self.config.name} on {self.ctx.device}, "
              f"{len(self.train_set)} train / {len(self.val_set)} val samples, "
              f"{self.sampler.batches_per_epoch} steps per epoch, from step {self.step}", flush=True)
        if self.baseline is None:
            means = mean_scores(evaluate(dataset_pairs(self.val_set)))
            self.baseline = {"psnr": means["input_psnr"], "ssim": means["input_ssim"]}
            print(f"blurred input on the validation set: PSNR {self.baseline['psnr']:.2f} dB, "
                  f"SSIM {self.baseline['ssim']:.4f}", flush=True)
            if self.real_set is not None:
                real = mean_scores(evaluate(dataset_pairs(self.real_set)))
                self.baseline.update(real_psnr=real["input_psnr"], real_ssim=real["input_ssim"])
                print(f"blurred input on the {len(self.real_set)} real pairs: PSNR {real['input_psnr']:.2f} dB, "
                      f"SSIM {real['input_ssim']:.4f}", flush=True)
            self.log.append({"kind": "baseline", "step": self.step, **self.baseline})

    def _remove_stale_temp_files(self) -> None:
        """Delete temp files a killed run left beside its outputs (``atomic_write``'s ``.<name>.*.tmp``)."""
        for folder in (self.paths.root, self.paths.last.parent):
            for path in folder.glob(".*.tmp"):
                path.unlink()

    def _log_train(self, record: dict, rate: float) -> None:
        self.log.append({
            "kind": "train", "step": self.step, "epoch": self.epoch, **record,
            "lr": self.scheduler.get_last_lr()[0], "it_s": round(rate, 4), "elapsed_s": round(self.elapsed(), 3),
        })

    def _validate(self) -> None:
        if self.ctx.is_main:
            model = self.evaluated_model
            model.eval()
            restore = model_restorer(model, self.ctx.device)
            means = mean_scores(evaluate(dataset_pairs(self.val_set), restore))
            self.last_val = {"psnr": means["output_psnr"], "ssim": means["output_ssim"]}
            if self.real_set is not None:
                real = mean_scores(evaluate(dataset_pairs(self.real_set), restore))
                self.last_val.update(real_psnr=real["output_psnr"], real_ssim=real["output_ssim"])
            model.train()
            self.log.append({"kind": "val", "step": self.step, "epoch": self.epoch, **self.last_val})
            if self.best_psnr is None or self.last_val["psnr"] > self.best_psnr:  # the real pairs never choose
                self.best_psnr = self.last_val["psnr"]
                extra = {"step": str(self.step), "val_psnr": f"{self.last_val['psnr']:.4f}",
                         "blur_generator": str(self.config.blur_generator)}
                if "real_psnr" in self.last_val:
                    extra["real_pairs_psnr"] = f"{self.last_val['real_psnr']:.4f}"
                save_checkpoint(model, self.paths.best, extra=extra)
            plot_metrics(self.log.read(), self.paths.plot)
        self.ctx.barrier()

    def _checkpoint(self) -> None:
        if self.ctx.is_main:
            self._save_state()


def train(
    config: TrainConfig,
    run_dir: Path,
    ctx: DistContext,
    resume: bool = False,
    datasets: tuple[Dataset, Dataset] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``config`` into ``run_dir`` (``datasets`` default to ``build_datasets(config)``)."""
    paths = RunPaths(Path(run_dir))
    if resume and paths.config.is_file():
        saved = read_run_config(run_dir)
        check_resumable(saved, config)
        config = dataclasses.replace(config, output_init_scale=saved.output_init_scale)  # how the run began
    if not resume and paths.state.exists():
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    train_set, val_set = datasets if datasets is not None else build_datasets(config)
    if len(val_set) == 0:
        raise ConfigError("the validation split is empty")
    trainer = Trainer(config, run_dir, ctx, train_set, val_set, resume=resume, progress=progress,
                      real_set=build_real_pairs(config))
    return trainer.run()
