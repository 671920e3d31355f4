"""Pre-annotation throughput (images/s) on the CPU, beside a bare onnxruntime loop over the same model and images.

    .venv/bin/python bench/preannotate.py [--images 16] [--size 480x320] [--limit-side 736] [--batch 8]
    DATABASE_URL=postgres://dlsaas@127.0.0.1:5432/dlsaas .venv/bin/python bench/preannotate.py   # adds (c)

The model is the demo's real one, PP-OCRv6 text detection (the file rapidocr's wheel ships), on
synthetic documents rendered with Pillow. Three paths over the same images, each timed after a warm-up (median of
--repeat):
(a) bare: Pillow resize + numpy normalise + InferenceSession.run in batches, outputs discarded: what any caller pays;
(b) runtime: apps.automation.runtime Predictor.predict: pre-processing per the input spec, batching, DBNet decoding
    to annotation dicts (polygons in image pixels);
(c) actor (with DATABASE_URL on a migrated database): the gpu actor's body called in-process on items of a dataset:
    reading and decrypting each image blob, the runtime, and writing the suggestions through the annotations
    services (validation, revisions, audit, replace-by-(item, version)); rolled back at the end.
Prints images/s and the overhead of (b) and (c) over (a). Target: <= 15 %.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DLSAAS_VAR_DIR", tempfile.mkdtemp(prefix="dlsaas-bench-preannotate-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlsaas.settings")
os.environ.setdefault("DLSAAS_INFERENCE_DEVICE", "cpu")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from gpu_runtime import DEFAULT_MODEL, documents  # noqa: E402
from PIL import Image  # noqa: E402

from apps.automation.demo import TEXT_DETECTOR_DECODER, TEXT_DETECTOR_INPUT  # noqa: E402
from apps.automation.runtime import Predictor, create_session, parse_decoder, parse_input_spec  # noqa: E402


def interleaved(paths: dict, repeat: int) -> dict[str, float]:
    """Median seconds per path, timed in rounds (a, b, c, a, b, c, ...) after one warm-up each, so load from other
    processes on a shared machine falls on every path alike."""
    for fn in paths.values():
        fn()
    runs = {name: [] for name in paths}
    for _ in range(repeat):
        for name, fn in paths.items():
            start = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in runs.items()}


def bare_loop(session, images, limit_side: int, batch: int) -> None:
    name = session.get_inputs()[0].name
    tensors = []
    for image in images:
        w, h = image.size
        ratio = limit_side / min(w, h) if min(w, h) < limit_side else 1.0
        size = (max(32, round(w * ratio / 32) * 32), max(32, round(h * ratio / 32) * 32))
        pixels = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
        tensors.append(((pixels[:, :, ::-1] / 255.0 - 0.5) / 0.5).transpose(2, 0, 1).astype(np.float32))
    for start in range(0, len(tensors), batch):
        session.run(None, {name: np.stack(tensors[start:start + batch])})


class _Rollback(Exception):
    pass


def with_actor_fixture(images, data: bytes, body) -> bool:
    """Runs body(run_actor, written) inside a transaction holding an organisation, a dataset of the images and the
    registered model, rolled back afterwards. False (body not run) without a PostgreSQL database."""
    from django.conf import settings
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return False
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.automation import tasks
    from apps.automation.demo import TEXT_RECIPE_SPEC
    from apps.automation.models import PreAnnotation
    from apps.automation.services import model_create, model_version_register
    from apps.datasets.intake import items_upload
    from apps.datasets.services import dataset_create
    from apps.recipes.services import recipe_create, recipe_publish
    from apps.tenancy.context import system_context
    from apps.tenancy.services import organization_create
    from tests.automation.factories import png_bytes
    from tests.factories import UserFactory

    try:
        with system_context(), transaction.atomic():
            owner = UserFactory()
            org = organization_create(name="Bench", slug=f"bench-{os.getpid()}", region=settings.REGIONS[0],
                                      owner=owner)
            recipe = recipe_create(org=org, actor=owner, name="Text", spec=TEXT_RECIPE_SPEC)
            version = recipe_publish(org=org, actor=owner, recipe=recipe, message="v1")
            dataset = dataset_create(org=org, actor=owner, name="Bench documents")
            files = [SimpleUploadedFile(f"doc{i}.png", png_bytes(im), content_type="image/png")
                     for i, im in enumerate(images)]
            ids = [item.pk for item in items_upload(org=org, actor=owner, dataset=dataset, files=files)]
            model = model_create(org=org, actor=owner, name="Text", task_type="detection", recipe=recipe)
            model_version = model_version_register(
                org=org, actor=owner, model=model, file=SimpleUploadedFile("det.onnx", data),
                input_spec=TEXT_DETECTOR_INPUT_BENCH, decoder=TEXT_DETECTOR_DECODER, label_map={"0": "text"},
                recipe_version=version)

            def written() -> int:
                rows = PreAnnotation.objects.for_org(org).filter(model_version=model_version)
                return sum(len(p.annotation_ids) for p in rows)

            body(lambda: tasks.preannotate_items(org.pk, model_version.pk, ids, owner.pk), written)
            raise _Rollback
    except _Rollback:
        pass
    return True


TEXT_DETECTOR_INPUT_BENCH = dict(TEXT_DETECTOR_INPUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", default="480x320")
    parser.add_argument("--limit-side", type=int, default=736)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    TEXT_DETECTOR_INPUT_BENCH["limit_side"] = args.limit_side
    data = DEFAULT_MODEL.read_bytes()
    images = documents(args.images, width, height)
    loaded = create_session(data, device="cpu", threads=args.threads)
    predictor = Predictor(loaded, parse_input_spec(TEXT_DETECTOR_INPUT_BENCH),
                          parse_decoder(TEXT_DETECTOR_DECODER, task_type="detection"), {0: "text"},
                          batch_size=args.batch)
    print(f"{args.images} images {width}x{height}, PP-OCRv6 det, short side -> {args.limit_side}, batch {args.batch}, "
          f"providers {loaded.providers}, median of {args.repeat} interleaved rounds, load average "
          f"{os.getloadavg()[0]:.1f}")
    found = []
    paths = {"bare": lambda: bare_loop(loaded.session, images, args.limit_side, args.batch),
             "runtime": lambda: found.append(sum(len(r) for r in predictor.predict(images)))}

    def report(seconds: dict, written: int | None = None) -> None:
        bare = seconds["bare"]
        print(f"(a) bare onnxruntime loop   {args.images / bare:7.2f} images/s  ({bare:.2f} s)")
        run = seconds["runtime"]
        print(f"(b) runtime + DBNet decoder {args.images / run:7.2f} images/s  ({run:.2f} s), {found[-1]} text "
              f"regions, overhead {100 * (run / bare - 1):+.1f} %")
        if "actor" in seconds:
            actor = seconds["actor"]
            print(f"(c) actor in-process        {args.images / actor:7.2f} images/s  ({actor:.2f} s), {written} "
                  f"suggestions written per run, overhead {100 * (actor / bare - 1):+.1f} %")
        else:
            print("(c) actor: skipped (set DATABASE_URL to a migrated PostgreSQL database)")

    def with_actor(run_actor, written) -> None:
        report(interleaved({**paths, "actor": run_actor}, args.repeat), written())

    if not with_actor_fixture(images, data, with_actor):
        report(interleaved(paths, args.repeat))


if __name__ == "__main__":
    main()
