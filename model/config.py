"""Model configurations as data: named variants and the paper's Table 6 ablations as switches."""

import dataclasses
import json
from dataclasses import dataclass

from deblur import __version__
from deblur.contract import SIZE_MULTIPLE

SCALE_SPACE_FACTOR = 4  # the coarsest scale of a scale-space model is 1/4

__all__ = ["ABLATIONS", "SIZE_MULTIPLE", "VARIANTS", "ConfigError", "ModelConfig", "build_config"]


class ConfigError(ValueError):
    """A model configuration that is malformed or inconsistent."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; stored beside the weights in every checkpoint.

    ``width`` is C, the channel count of the first level (paper: 32). The DMRFAB widths default to
    ``growth = 8C`` and ``branch = 3C`` (not given in the paper; chosen to land the paper variant near
    its 24.4 MB / ~6 M parameters).

    ``bottleneck_blocks`` (not in the paper; 0 = the paper's network) adds that many residual DSC blocks
    after the DMRFAB, at 1/8 resolution: capacity for ~550 MACs per input pixel each at C = 16.

    ``scale_space`` (not in the paper) runs the network at full, half and quarter size and combines its
    corrections with a learned gate (``deblur.model.scale_space``): inputs become multiples of 32.
    """

    variant: str = "paper"
    width: int = 32
    wavelet: bool = True
    dmrfab: bool = True
    attention: bool = True
    mlff: bool = True
    dmrfab_growth: int | None = None
    dmrfab_branch: int | None = None
    bottleneck_blocks: int = 0
    scale_space: bool = False

    def __post_init__(self):
        if self.width < 8 or self.width % 8:
            raise ConfigError(f"width must be a positive multiple of 8, got {self.width}")
        for name in ("dmrfab_growth", "dmrfab_branch"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be positive, got {value}")
        if self.bottleneck_blocks < 0:
            raise ConfigError(f"bottleneck_blocks must be >= 0, got {self.bottleneck_blocks}")

    @property
    def size_multiple(self) -> int:
        """H and W of an input must be multiples of this: 8 (three Haar levels), 32 with two shrinks before them."""
        return SIZE_MULTIPLE * SCALE_SPACE_FACTOR if self.scale_space else SIZE_MULTIPLE

    @property
    def growth(self) -> int:
        return self.dmrfab_growth or 8 * self.width

    @property
    def branch(self) -> int:
        return self.dmrfab_branch or 3 * self.width

    @property
    def ablation(self) -> str:
        """Name of the Table 6 ablation this config is ("full" when every module is on)."""
        for name, switches in ABLATIONS.items():
            if all(getattr(self, key) == value for key, value in switches.items()):
                return name
        return "custom"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps({"version": __version__, **self.to_dict()}, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known - {"version"}
        if unknown:
            raise ConfigError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"model config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("model config JSON must be an object")
        return cls.from_dict(data)


VARIANTS: dict[str, ModelConfig] = {
    "paper": ModelConfig(variant="paper", width=32),
    "lite": ModelConfig(variant="lite", width=16),
}

# Table 6 of the paper: Model1..Model5.
ABLATIONS: dict[str, dict[str, bool]] = {
    "full": {"wavelet": True, "dmrfab": True, "attention": True, "mlff": True},
    "no-wavelet": {"wavelet": False, "dmrfab": True, "attention": True, "mlff": True},
    "no-dmrfab": {"wavelet": True, "dmrfab": False, "attention": True, "mlff": True},
    "no-attention": {"wavelet": True, "dmrfab": True, "attention": False, "mlff": True},
    "no-mlff": {"wavelet": True, "dmrfab": True, "attention": True, "mlff": False},
}


def build_config(variant: str = "paper", ablation: str = "full") -> ModelConfig:
    """The named variant with the named Table 6 ablation applied."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose from {sorted(VARIANTS)}")
    if ablation not in ABLATIONS:
        raise ConfigError(f"unknown ablation {ablation!r}; choose from {sorted(ABLATIONS)}")
    return dataclasses.replace(VARIANTS[variant], **ABLATIONS[ablation])
