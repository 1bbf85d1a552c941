"""Old path of :mod:`deblur.model.complexity`, kept for one release: import from ``deblur.model.complexity``."""

from deblur.model.complexity import (  # noqa: F401
    count_macs,
    count_parameters,
)
