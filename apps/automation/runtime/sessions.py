"""onnxruntime sessions, cached per model version (keyed by the ONNX file's sha256), least recently used first out.

`device="cuda"` asks for ["CUDAExecutionProvider", "CPUExecutionProvider"]: onnxruntime-gpu falls back to the CPU
when CUDA cannot load, and lists CUDA as *available* even on a machine without it, so what ran is read from
`session.get_providers()` after the session exists (see the shared STACK.md).
"""

import contextlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import onnxruntime as ort

ort.set_default_logger_severity(3)  # a CUDA load failure on a CPU host is expected, not an error to print

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def providers_for(device: str) -> list[str]:
    return [CUDA, CPU] if device == "cuda" else [CPU]


@dataclass
class LoadedSession:
    session: ort.InferenceSession
    providers: list[str]  # what the session actually uses, best first

    @property
    def provider(self) -> str:
        return self.providers[0]


_cuda_libraries_loaded = False


def _load_cuda_libraries() -> None:
    """Loads CUDA and cuDNN from the nvidia-* wheels (onnxruntime-gpu[cuda,cudnn]) once per process; a host whose
    libraries are on the loader path needs nothing, and a host without CUDA falls back to the CPU provider.
    onnxruntime prints what it could not find: kept out of the worker's output, as the session says what ran."""
    global _cuda_libraries_loaded
    if _cuda_libraries_loaded or not hasattr(ort, "preload_dlls"):
        return
    _cuda_libraries_loaded = True
    with contextlib.redirect_stdout(io.StringIO()):
        ort.preload_dlls()


def create_session(model_bytes: bytes, *, device: str = "cpu", threads: int = 0) -> LoadedSession:
    if device == "cuda":
        _load_cuda_libraries()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model_bytes, sess_options=options, providers=providers_for(device))
    return LoadedSession(session=session, providers=list(session.get_providers()))


class SessionCache:
    """At most `capacity` sessions; a miss loads the bytes through `loader()` and evicts the least recently used."""

    def __init__(self, capacity: int = 4, *, device: str = "cpu", threads: int = 0):
        self.capacity = max(1, capacity)
        self.device = device
        self.threads = threads
        self._sessions: OrderedDict[str, LoadedSession] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, sha256: str, loader: Callable[[], bytes]) -> LoadedSession:
        with self._lock:
            if sha256 in self._sessions:
                self._sessions.move_to_end(sha256)
                return self._sessions[sha256]
        loaded = create_session(loader(), device=self.device, threads=self.threads)
        with self._lock:
            self.loads += 1
            self._sessions[sha256] = loaded
            self._sessions.move_to_end(sha256)
            while len(self._sessions) > self.capacity:
                self._sessions.popitem(last=False)
            return self._sessions[sha256]

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
