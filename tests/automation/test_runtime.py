"""The runtime package: Django-free, its session cache bounded, batching that gives the same answers."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from apps.automation.runtime import Predictor, SessionCache, create_session, parse_decoder, parse_input_spec
from tests.automation.factories import CLASSIFIER_SPEC, classifier, to_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_imports_neither_django_nor_shapely():
    code = ("import sys; import apps.automation.runtime; "
            "print(sorted(m for m in ('django', 'shapely') if m in sys.modules))")

    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def test_the_session_cache_keeps_the_most_recently_used_versions():
    cache = SessionCache(capacity=2, device="cpu")
    data = to_bytes(classifier(3))

    for sha in ("a", "b", "a", "c", "a"):
        cache.get(sha, lambda: data)

    assert cache.loads == 3 and "a" in cache and "c" in cache and "b" not in cache


def test_batched_and_single_runs_agree():
    loaded = create_session(to_bytes(classifier(3)))
    spec, decoder = parse_input_spec(CLASSIFIER_SPEC), parse_decoder({"kind": "softmax", "top_k": 3})
    images = [Image.fromarray(np.full((20, 30, 3), v, dtype=np.uint8)) for v in (0, 90, 255)]

    batched = Predictor(loaded, spec, decoder, {0: "person", 1: "car", 2: "truck"}, batch_size=8).predict(images)
    single = Predictor(loaded, spec, decoder, {0: "person", 1: "car", 2: "truck"}, batch_size=1).predict(images)

    assert batched == single
    assert batched[2][0]["label"] == "car" and batched[2][0]["confidence"] > batched[0][0]["confidence"]
