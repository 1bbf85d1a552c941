"""Old path of :mod:`deblur.model.haar`, kept for one release: import from ``deblur.model.haar``."""

from deblur.model.haar import (  # noqa: F401
    HaarDWT,
    HaarIWT,
    haar_kernel,
)
