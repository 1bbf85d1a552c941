"""Old path of the ONNX metadata contract, kept one release: it now lives in :mod:`deblur.contract`."""

from deblur.contract import FORMAT, INPUT_NAME, KEYS, OPTIONAL_KEYS, OUTPUT_NAME

__all__ = ["FORMAT", "INPUT_NAME", "KEYS", "OPTIONAL_KEYS", "OUTPUT_NAME"]
