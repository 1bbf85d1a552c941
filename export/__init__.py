"""Export: checkpoint -> ONNX -> FP16 / INT8 QDQ ONNX -> TensorRT engine, each stage verified."""
