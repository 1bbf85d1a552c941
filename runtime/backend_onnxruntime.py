"""Old path of the ONNX Runtime backend, kept one release: use ``deblur.runtime.backends.onnxruntime``."""

from .backends.onnxruntime import (
    CPU,
    CUDA,
    DEVICE_PROVIDERS,
    TENSORRT,
    OnnxRuntimeBackend,
    choose_providers,
    cpu_session_options,
    engine_cache_dir,
    fallback_warning,
    with_options,
)

__all__ = ["CPU", "CUDA", "DEVICE_PROVIDERS", "TENSORRT", "OnnxRuntimeBackend", "choose_providers",
           "cpu_session_options", "engine_cache_dir", "fallback_warning", "with_options"]
