"""The contract between export and runtime: metadata keys stored in an ONNX model's ``metadata_props``.

Export writes them; the runtime reads them, so an ONNX file is all the runtime needs. Torch-free.
"""

FORMAT = "deblur-onnx"

# key -> meaning; every exported model carries all of them (values are strings).
KEYS = {
    "deblur.format": f"always {FORMAT!r}",
    "deblur.version": "toolkit version that exported the model",
    "deblur.config": "model config JSON (variant, width, ablation switches)",
    "deblur.variant": "variant name, e.g. 'lite'",
    "deblur.width": "channel width C of the first level (paper: 32, lite: 16)",
    "deblur.ablation": "Table 6 ablation name, 'full' for the complete model",
    "deblur.size_multiple": "H and W must be multiples of this (8)",
    "deblur.value_range": "input/output value range, '0,1'",
    "deblur.color_order": "channel order of input and output, 'RGB'",
    "deblur.layout": "tensor layout, 'NCHW'",
    "deblur.precision": "'fp32', 'fp16' or 'int8-qdq'",
    "deblur.io_dtype": "element type of input/output tensors, 'float32' or 'float16'",
    "deblur.training_data": "what the weights were trained on",
}

# Keys only some exported models carry.
OPTIONAL_KEYS = {
    "deblur.high_precision_nodes": "JSON list of node names kept in fp32 (fp16 model) or left unquantized (int8 model)",
    "deblur.calibration": "INT8 models: the calibration set (frames, tile size, method)",
    "deblur.quality": "measured quality, real pairs first (PSNR gain on real blurred/sharp pairs, then synthetic)",
}

INPUT_NAME = "input"
OUTPUT_NAME = "output"
