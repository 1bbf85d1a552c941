"""Old path of :mod:`deblur.model.blocks`, kept for one release: import from ``deblur.model.blocks``."""

from deblur.model.blocks import (  # noqa: F401
    DSC,
    LEAKY_SLOPE,
    RDSC,
    RDSCGroup,
    ResidualDSC,
    StridedDown,
    TransposedUp,
    downsample,
    leaky_relu,
    upsample,
)
