"""Inference backends: the interface (``base``), ``open_backend`` (``registry``), ONNX Runtime (``onnxruntime``)
and TensorRT (``tensorrt``). Arrows point one way: registry -> implementations -> base; base imports neither.
Torch-free: the runtime's modules and ``deblur.contract`` only.
"""
