"""The inference runtime on CUDA and on the CPU, standalone: no Django, no database.

    python bench/gpu_runtime.py [--model PATH] [--images 64] [--size 640x480]
                                [--batch 8] [--limit-side 736] [--devices cuda,cpu]

Needs only numpy, Pillow, onnx and onnxruntime-gpu (with the CUDA 13 / cuDNN 9 libraries on a GPU host:
`pip install onnxruntime-gpu[cuda,cudnn]`). Renders --images synthetic documents (lines of text with Pillow), then
for each device builds a session through apps/automation/runtime (CUDA requested as
["CUDAExecutionProvider", "CPUExecutionProvider"], CPU as ["CPUExecutionProvider"]) and runs the full path:
pre-processing (resize to the short side --limit-side, multiples of 32, BGR, normalised), batched inference,
DBNet decoding to text polygons. Prints the providers the session actually used (session.get_providers()),
images/s after a warm-up, the regions found, and the speed-up of CUDA over the CPU.
"""

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Imported by path, not through the Django app: the runtime package is pure numpy / Pillow / onnxruntime.
_spec = importlib.util.spec_from_file_location("runtime", ROOT / "apps" / "automation" / "runtime" / "__init__.py",
                                               submodule_search_locations=[str(ROOT / "apps/automation/runtime")])
runtime = importlib.util.module_from_spec(_spec)
sys.modules["runtime"] = runtime
_spec.loader.exec_module(runtime)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402


def _default_model() -> Path:
    """PP-OCRv6 text detection as the rapidocr wheel ships it (requirements-demo.txt; Apache-2.0), found without
    importing rapidocr; on a machine without that wheel (a GPU host), pass --model with a copy of the file."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "models" / "PP-OCRv6_det_small.onnx"
    return ROOT / "bench" / "models" / "PP-OCRv6_det_small.onnx"  # ignored by git: copy the file here to carry it


DEFAULT_MODEL = _default_model()
WORDS = ["invoice", "total", "2026", "dlsaas", "label", "every", "pixel", "EUR", "42.00", "street", "north", "data"]


def documents(count: int, width: int, height: int) -> list[Image.Image]:
    rng = np.random.default_rng(11)
    try:
        font = ImageFont.load_default(size=max(12, height // 14))
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    images = []
    for _ in range(count):
        image = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(220, 256, 3)))
        draw = ImageDraw.Draw(image)
        for line in range(int(rng.integers(3, 7))):
            text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))))
            y = 10 + line * (height // 7)
            draw.text((int(rng.integers(5, width // 4)), y), text, fill=(20, 20, 30), font=font)
        images.append(image)
    return images


def run(device: str, data: bytes, images, args) -> dict:
    loaded = runtime.create_session(data, device=device)
    spec = runtime.parse_input_spec({"resize": "limit", "limit_side": args.limit_side, "limit_type": "min",
                                     "multiple_of": 32, "color": "BGR", "mean": [0.5] * 3, "std": [0.5] * 3})
    decoder = runtime.parse_decoder({"kind": "dbnet"}, task_type="detection")
    predictor = runtime.Predictor(loaded, spec, decoder, {0: "text"}, batch_size=args.batch)
    predictor.predict(images[: min(len(images), args.batch)])  # warm-up: CUDA kernels, memory arenas
    timings, found = [], 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        results = predictor.predict(images)
        timings.append(time.perf_counter() - start)
        found = sum(len(r) for r in results)
    seconds = statistics.median(timings)
    return {"device": device, "providers": loaded.providers, "seconds": seconds, "ips": len(images) / seconds,
            "found": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the synthetic documents")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--limit-side", type=int, default=736)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--devices", default="cuda,cpu")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    data = args.model.read_bytes()
    onnx.checker.check_model(onnx.load_model_from_string(data))
    print(f"onnxruntime {ort.__version__} (device {ort.get_device()}; available providers: "
          f"{', '.join(ort.get_available_providers())})")
    print(f"model {args.model.name} ({len(data) / 1e6:.1f} MB); {args.images} images {width}x{height}, "
          f"short side -> {args.limit_side}, batch {args.batch}, median of {args.repeat}")
    images = documents(args.images, width, height)
    results = {}
    for device in [d.strip() for d in args.devices.split(",") if d.strip()]:
        result = run(device, data, images, args)
        results[device] = result
        note = ""
        if device == "cuda" and result["providers"][0] != "CUDAExecutionProvider":
            note = "  (CUDA requested but unavailable: onnxruntime fell back to the CPU)"
        print(f"{device:>5}: providers used {result['providers']}; {result['ips']:.2f} images/s "
              f"({result['seconds']:.2f} s), {result['found']} text regions{note}")
    if "cuda" in results and "cpu" in results:
        print(f"speed-up cuda/cpu: {results['cuda']['ips'] / results['cpu']['ips']:.2f}x")


if __name__ == "__main__":
    main()
