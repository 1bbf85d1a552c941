"""Old path of :mod:`deblur.model.unet`, kept for one release: import from ``deblur.model.unet``."""

from deblur.model.unet import (  # noqa: F401
    DeblurUNet,
    check_input_size,
)
