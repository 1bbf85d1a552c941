"""ONNX Runtime CPU sessions for checking exported models (torch-free)."""

import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from deblur.contract import INPUT_NAME


def cpu_session(model: onnx.ModelProto | Path, threads: int = 0) -> ort.InferenceSession:
    """A CPUExecutionProvider session for a model in memory or on disk (``threads=0``: ORT's default)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: the fp16 Cast-insertion notices are expected on CPU
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def input_dtype(session: ort.InferenceSession) -> np.dtype:
    """numpy dtype the session's ``input`` tensor expects."""
    return np.float16 if session.get_inputs()[0].type == "tensor(float16)" else np.float32


def run(session: ort.InferenceSession, batch: np.ndarray) -> np.ndarray:
    """Run an (N, 3, H, W) batch through the model's single input; output as float32."""
    feed = {INPUT_NAME: batch.astype(input_dtype(session), copy=False)}
    return session.run(None, feed)[0].astype(np.float32, copy=False)


def median_latency_ms(session: ort.InferenceSession, batch: np.ndarray, repeats: int = 3) -> float:
    """Median wall time of ``repeats`` runs after one warm-up run, in milliseconds."""
    run(session, batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(session, batch)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))
