"""Training configurations as data: named recipes, config files (JSON/TOML) and ``key=value`` overrides.

The named recipes are TOML files shipped with the package (``recipe_files/<name>.toml``), read by the same
loader as any config file. ``paper`` is the paper's recipe (256x256 crops, batch 10, Adam 1e-4 with betas
0.9/0.999, lr halved every 1000 epochs, 3000 epochs, MSE + 0.1 FRLF). The ``cpu-*`` recipes are time-boxed for a
small CPU: the lite network, smaller crops, and the lr halved every ``lr_step`` *steps* rather than epochs.

``batch_size`` is the global batch: under DistributedDataParallel each of W processes takes
``batch_size / W`` samples, so the optimisation is the same for any number of processes.
"""

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package (train extra)
    import tomli as tomllib

from deblur.model.config import ABLATIONS, SIZE_MULTIPLE, VARIANTS, ConfigError, ModelConfig, build_config

from .data.augment import NOISE_VARIANCE
from .data.images import DataError
from .data.blur_synthesis import GENERATOR_COMMITS, GENERATOR_VERSION, BlurSettings
from .data.synthetic import check_alternate_share, check_photo_scale
from .losses import REDUCTIONS, check_loss_name

MODEL_OVERRIDES = ("width", "dmrfab_growth", "dmrfab_branch", "bottleneck_blocks", "scale_space")  # keys that set ModelConfig

DATA_KINDS = ("gopro", "realblur", "synthetic", "pairs")
AMP_MODES = ("auto", "bf16", "fp16", "off")
LR_STEP_UNITS = ("epoch", "step")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Step counters (``val_every``, ``checkpoint_every``, ``log_every``) count
    optimizer steps; ``lr_step`` counts ``lr_step_unit`` (epochs or steps)."""

    name: str = "custom"
    # model
    variant: str = "lite"
    ablation: str = "full"
    width: int | None = None  # overrides the variant's width (tests use 8)
    bottleneck_blocks: int | None = None  # overrides the variant's extra bottleneck depth (ModelConfig)
    dmrfab_growth: int | None = None  # overrides the DMRFAB unit width (default 8 * width)
    dmrfab_branch: int | None = None  # overrides the DMRFAB branch width (default 3 * width)
    output_init_scale: float = 1.0  # scales the initial weights of the last 1x1 conv (see loop.scale_output_projection)
    init_weights: str | None = None  # start from this deblur checkpoint's weights (fine-tuning: fresh optimizer)
    scale_space: bool | None = None  # the network at full, half and quarter size with a gate (deblur.model.scale_space)
    train_network: bool = True  # scale-space models: False trains the gate only (the network's weights stay)
    # data
    data_kind: str = "synthetic"
    data: str | None = None
    realblur_subset: str = "J"
    blur: dict | None = None  # synthetic blur settings (BlurSettings.from_dict)
    blur_alternate: dict | None = None  # a second set of blur settings, for a share of the synthetic pairs
    blur_alternate_share: float = 0.0  # the share of pairs (training and validation) blurred with blur_alternate
    blur_generator: int = GENERATOR_VERSION  # the synthetic blur generator's version (only this tree's one runs)
    min_texture: float = 0.0  # synthetic crops: prefer at least this mean gradient magnitude (0 = any crop)
    photo_scale: tuple[float, float] | None = None  # synthetic training: shrink each photo by a random factor in (low, high)
    crop: int = 256
    augment: bool = True
    input_noise_variance: float = NOISE_VARIANCE  # the paper's Gaussian noise on augmented inputs; 0 = none
    train_length: int | None = None  # samples per epoch; None = the whole split
    val_crop: int | None = 256  # None = full validation images
    val_length: int | None = None
    real_pairs: str | None = None  # a ``pairs`` folder of real blurred/sharp images scored at each validation
    val_data: str | None = None  # validate on this photo folder's synthetic held-out split (e.g. training from a pool)
    # optimisation
    batch_size: int = 10
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    lr_step: int = 1000
    lr_step_unit: str = "epoch"
    lr_gamma: float = 0.5
    ema_decay: float | None = None  # keep an exponential moving average of the weights; it is what val and checkpoints use
    epochs: int = 3000
    max_steps: int | None = None
    max_minutes: float | None = None
    loss: str = "mse+frlf"
    loss_weight: float | None = None  # None = the Table 2 lambda of ``loss``
    loss_reduction: str = "mean"  # "log": mean of 10·log10(each image's loss), weighing images as a mean PSNR does
    amp: str = "auto"  # auto: bf16/fp16 on CUDA, fp32 on CPU; "bf16" also on CPUs with native bf16
    seed: int = 0
    # bookkeeping
    val_every: int = 1000
    checkpoint_every: int = 500
    log_every: int = 50
    workers: int = 2

    def __post_init__(self):
        choices = {
            "variant": VARIANTS,
            "ablation": ABLATIONS,
            "data_kind": DATA_KINDS,
            "amp": AMP_MODES,
            "lr_step_unit": LR_STEP_UNITS,
            "loss_reduction": REDUCTIONS,
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} must be one of {sorted(allowed)}, got {getattr(self, key)!r}")
        check_loss_name(self.loss)
        check_blur_generator(self.blur_generator)
        positive = ("crop", "batch_size", "lr", "output_init_scale", "lr_step", "epochs",
                    "val_every", "checkpoint_every", "log_every")
        for key in positive:
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} must be positive, got {getattr(self, key)}")
        for key in ("train_length", "val_length", "max_steps", "max_minutes", "val_crop"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ConfigError(f"{key} must be positive or null, got {value}")
        multiple = self.model_config().size_multiple
        for key in ("crop", "val_crop"):
            if (getattr(self, key) or multiple) % multiple:
                raise ConfigError(f"{key} must be a multiple of {multiple}, got {getattr(self, key)}")
        if not self.train_network and not self.model_config().scale_space:
            raise ConfigError("train_network = false needs scale_space = true (only the gate can train alone)")
        try:
            check_photo_scale(self.photo_scale)
        except DataError as error:
            raise ConfigError(str(error)) from error
        try:
            check_alternate_share(self.blur_alternate_share, self.blur_alternate)
        except DataError as error:
            raise ConfigError(f"blur_alternate_share / [blur_alternate]: {error}") from error
        if self.input_noise_variance < 0:
            raise ConfigError(f"input_noise_variance must be >= 0, got {self.input_noise_variance}")
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        if not 0 < self.lr_gamma <= 1:
            raise ConfigError(f"lr_gamma must be in (0, 1], got {self.lr_gamma}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in (0, 1) or null, got {self.ema_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas}")
        self.model_config()  # validates the width and depth overrides

    def model_config(self) -> ModelConfig:
        config = build_config(self.variant, self.ablation)
        overrides = {key: getattr(self, key) for key in MODEL_OVERRIDES if getattr(self, key) is not None}
        return dataclasses.replace(config, **overrides)

    def blur_settings(self) -> tuple[BlurSettings | None, BlurSettings | None]:
        """The ``[blur]`` and ``[blur_alternate]`` tables as generator settings (None where unset)."""
        return tuple(None if table is None else BlurSettings.from_dict(table)
                     for table in (self.blur, self.blur_alternate))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown training config keys: {sorted(unknown)}; known: {sorted(known)}")
        hints = typing.get_type_hints(cls)
        return cls(**{key: _coerce(key, value, hints[key]) for key, value in data.items()})


def check_blur_generator(version: int) -> None:
    """Only this tree's blur generator runs; an older version names the commit that holds it."""
    if version == GENERATOR_VERSION:
        return
    if version in GENERATOR_COMMITS:
        commit = GENERATOR_COMMITS[version]
        raise ConfigError(f"blur_generator = {version} is an older blur generator than this tree's "
                          f"({GENERATOR_VERSION}); commit {commit} holds it: train in that commit's tree "
                          f"(`git worktree add ../deblur-{commit} {commit}`)")
    raise ConfigError(f"blur_generator must be {GENERATOR_VERSION} (this tree's generator; older versions: "
                      f"{', '.join(map(str, sorted(GENERATOR_COMMITS)))}), got {version}")


RECIPE_FOLDER = Path(__file__).resolve().parent / "recipe_files"  # package data: one <name>.toml per recipe
RECIPES = ("paper", "cpu-lite", "cpu-lite-smoke")  # the named recipes, in the order --help lists them


def recipe_path(name: str) -> Path:
    """The TOML file of a named recipe (read by the same loader as any config file)."""
    if name not in RECIPES:
        raise ConfigError(f"no recipe named {name!r} (recipes: {sorted(RECIPES)})")
    return RECIPE_FOLDER / f"{name}.toml"


def load_train_config(source: str, overrides: list[str] = ()) -> TrainConfig:
    """A recipe name or a ``.json`` / ``.toml`` file (optionally ``base = "<recipe or file>"``), then overrides."""
    data = _read_config_file(recipe_path(source) if source in RECIPES else Path(source))
    return apply_overrides(TrainConfig.from_dict(data), overrides)


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Apply ``key=value`` strings; values are parsed as JSON when they can be (``2e-4``, ``null``,
    ``[0.9, 0.99]``), else taken as text (``data=../photos``)."""
    data = config.to_dict()
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        data[key.strip()] = value
    return TrainConfig.from_dict(data)


def _read_config_file(path: Path, included: tuple[Path, ...] = ()) -> dict:
    """A config file's settings on top of its ``base``: a recipe name or another config file (a path relative
    to this file's folder). Tables such as ``[blur]`` are merged key by key, so a file changes only what it names.
    TOML has no null: ``null = ["val_crop", ...]`` sets those keys to null (the named recipes are such files)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file and no recipe of that name (recipes: {sorted(RECIPES)})")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            raise ConfigError(f"{path}: config files must be .json or .toml")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot parse config ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must hold a table/object of settings")
    nulls = data.pop("null", [])
    if not isinstance(nulls, list) or not all(isinstance(key, str) for key in nulls):
        raise ConfigError(f"{path}: null must be a list of setting names, got {nulls!r}")
    overlap = sorted(set(nulls) & set(data))
    if overlap:
        raise ConfigError(f"{path}: {overlap} both set and listed in null")
    data.update(dict.fromkeys(nulls))
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base must be a recipe name or a config file, got {base!r}")
    if base in RECIPES:
        inherited = _read_config_file(recipe_path(base))
    elif Path(base).suffix in (".toml", ".json"):
        base_path = (path.parent / base).resolve()
        if base_path in included or base_path == path.resolve():
            raise ConfigError(f"{path}: base {base!r} includes itself")
        inherited = _read_config_file(base_path, (*included, path.resolve()))
    else:
        raise ConfigError(f"{path}: base {base!r} is neither a recipe (recipes: {sorted(RECIPES)}) "
                          "nor a .toml/.json config file")
    merged = {**inherited, "name": path.stem}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = {**merged[key], **value}
        merged[key] = value
    return merged


def _coerce(key: str, value, hint):
    """Check ``value`` against the field's type, converting where lossless (int -> float, list -> tuple)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise ConfigError(f"{key} may not be null")
    for option in options:
        origin = typing.get_origin(option) or option
        if origin is bool and isinstance(value, bool):
            return value
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is float and _is_number(value):
            return float(value)
        if origin in (str, dict) and isinstance(value, origin):
            return value
        if origin is tuple and isinstance(value, (list, tuple)) and all(_is_number(v) for v in value):
            return tuple(float(v) for v in value)
    raise ConfigError(f"{key} has the wrong type: expected {hint}, got {value!r}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
