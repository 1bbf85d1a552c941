"""Mixed-precision policy: which autocast dtype a training run uses on its device."""

import torch

from deblur.model.config import ConfigError


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the forward pass, or None for fp32.

    CUDA: bf16 where supported (``auto``), else fp16 with a GradScaler. CPU: fp32 unless ``bf16`` is asked
    for (``auto`` keeps the CPU recipes bit-reproducible), and only on CPUs with native bf16 (AVX512-BF16 or
    AMX), where oneDNN runs a bare training step ~1.6x faster; elsewhere it would be emulated and slower.
    """
    if amp == "off":
        return None
    if device.type == "cuda":
        if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
            return torch.float16
        return torch.bfloat16
    if amp == "auto":
        return None
    if amp == "fp16":
        raise ConfigError("amp = 'fp16' needs a CUDA device; on CPU use 'bf16' or 'off'")
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        raise ConfigError("amp = 'bf16' on CPU needs native bf16 support (AVX512-BF16 or AMX); this CPU has none")
    return torch.bfloat16
