"""How Keepsake opens an ONNX Runtime session: CPU only, a fixed number of threads, no spinning.

On a small machine ONNX Runtime's defaults hurt: its thread pool spins while waiting for work,
so two sessions (or one session beside the detector) on two cores fight for them and throughput
halves. Keepsake scales by running one single-threaded session per worker process instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort

from keepsake.ml.base import ModelNotFoundError

DEFAULT_THREADS = 1
"""Intra-op threads per session. Measured on the 2-core development machine (16-chip batches,
other work running, load average about 4): one thread 8.4 ms per face; two threads 10.0 ms, or
12.8 ms with ONNX Runtime's default spinning; two single-thread processes together 7.7 ms per
face, two two-thread spinning ones 8.4 ms. Under heavier load (about 7) the order held: 19, 28,
35, 20 and 28 ms."""


def open_session(path: Path, threads: int = DEFAULT_THREADS) -> Any:
    """An `onnxruntime.InferenceSession` on the CPU for the model at `path`."""
    if not path.is_file():
        raise ModelNotFoundError(f"ONNX model {path} does not exist")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # warnings about unused initializers are noise here
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
