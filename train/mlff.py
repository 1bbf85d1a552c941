"""Old path of :mod:`deblur.model.mlff`, kept for one release: import from ``deblur.model.mlff``."""

from deblur.model.mlff import (  # noqa: F401
    LEVELS,
    MLFF,
    LevelAdapter,
    SelectiveKernelFusion,
)
