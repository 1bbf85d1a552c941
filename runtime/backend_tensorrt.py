"""Old path of the TensorRT backend, kept one release: use ``deblur.runtime.backends.tensorrt``."""

from deblur.contract import SIDECAR_KEYS, sidecar_path

from .backends.tensorrt import (
    INSTALL_HINT,
    TensorRTBackend,
    check_engine_compatible,
    import_tensorrt,
    profile_max_hw,
    read_sidecar,
)

__all__ = ["INSTALL_HINT", "SIDECAR_KEYS", "TensorRTBackend", "check_engine_compatible", "import_tensorrt",
           "profile_max_hw", "read_sidecar", "sidecar_path"]
