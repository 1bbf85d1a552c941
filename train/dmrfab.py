"""Old path of :mod:`deblur.model.dmrfab`, kept for one release: import from ``deblur.model.dmrfab``."""

from deblur.model.dmrfab import (  # noqa: F401
    CA_REDUCTION,
    DILATIONS,
    DMRFAB,
    MRFAB,
    SA_KERNEL,
    ChannelAttention,
    SpatialAttention,
)
