"""Old path of :mod:`deblur.model.widening`, kept for one release: import from ``deblur.model.widening``."""

from deblur.model.widening import (  # noqa: F401
    WIDENABLE,
    Layout,
    check_widening,
    concat_layouts,
    copy_into_wider,
    dmrfab_layouts,
    keep_spatial_attention_mean,
    old_channels,
    prefix,
    widen,
)
