"""The registry's trial run in a child process with a deadline, so a pathological upload (a graph that computes for
minutes, one that crashes onnxruntime or eats the memory) costs the request a clear 400, never the web process.

    python -m apps.automation.trial SECONDS   < pickle (model bytes, InputSpec, DecoderSpec, label map)
                                              > JSON {"batch_size", "provider"} | {"field", "message"}

The child imports the runtime (numpy, Pillow, onnxruntime; no Django), then arms a real-time timer whose signal is
left at its default action: at the deadline the kernel ends the process wherever it is, inside onnxruntime's C++
included. The parent reads the exit status. Input goes parent -> child only as pickle (ours); what comes back is
JSON, as the child has run an uploaded graph.
"""

import json
import pickle
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STARTUP_GRACE_SECONDS = 60  # imports before the timer is armed; only a wedged machine takes this long


class TrialError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def trial_run_bounded(data: bytes, spec, decoder, label_map: dict[int, str], *, seconds: float,
                      filename: str = "") -> tuple[int, str]:
    """registry.trial_run in a child process that may compute for at most `seconds` (session creation and runs).
    Returns (batch size, provider); raises TrialError(field, message) for a refusal, a timeout or a crash."""
    payload = pickle.dumps((data, spec, decoder, label_map), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        done = subprocess.run(  # noqa: S603 - our interpreter and module; the float is formatted by us
            [sys.executable, "-m", "apps.automation.trial", repr(float(seconds))], input=payload, capture_output=True,
            cwd=ROOT, timeout=seconds + STARTUP_GRACE_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise TrialError("file", _too_slow(seconds, filename)) from None
    if done.returncode == -signal.SIGALRM:
        raise TrialError("file", _too_slow(seconds, filename))
    if done.returncode != 0:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
        raise TrialError("file", f"The model crashed onnxruntime in its trial run on a sample image ({how}).")
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise TrialError("file", "The model's trial run gave no answer.") from None
    if "field" in answer:
        raise TrialError(str(answer["field"]), str(answer["message"]))
    return int(answer["batch_size"]), str(answer["provider"])


def _too_slow(seconds: float, filename: str) -> str:
    name = f"{filename[:100]!r}" if filename else "the model"
    return (f"The trial run of {name} on one sample image took longer than the {seconds:g} s allowed "
            "(DLSAAS_MODEL_TRIAL_SECONDS): it was stopped and the file not kept.")


def _child(seconds: float) -> None:
    from .registry import RegistryError, trial_run

    data, spec, decoder, label_map = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - written by the parent
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        batch_size, provider = trial_run(data, spec, decoder, label_map)
        answer = {"batch_size": batch_size, "provider": provider}
    except RegistryError as exc:
        answer = {"field": exc.field, "message": exc.message}
    signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    _child(float(sys.argv[1]))
