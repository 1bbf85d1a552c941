"""Old path of :mod:`deblur.model.config`, kept for one release: import from ``deblur.model.config``."""

from deblur.model.config import (  # noqa: F401
    ABLATIONS,
    SIZE_MULTIPLE,
    VARIANTS,
    ConfigError,
    ModelConfig,
    build_config,
)
