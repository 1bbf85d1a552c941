"""Export: checkpoint -> ONNX -> FP16 / INT8 QDQ ONNX -> TensorRT engine, each stage verified.

May import the network (``deblur.model``, torch only when the source is a checkpoint), calibration, the
runtime (whose TensorRT backend checks a built engine) and the contract and helpers in ``deblur/``; never the
training package.
"""
