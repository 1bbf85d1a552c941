"""Old path of :mod:`deblur.model.growth`, kept for one release: import from ``deblur.model.growth``."""

from deblur.model.growth import (  # noqa: F401
    added_block_prefixes,
    grow,
    load_initial_weights,
)
