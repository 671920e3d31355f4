"""Pre-annotation throughput (images/s) through a pipeline on the CPU, beside a bare onnxruntime loop over the same
model and images, in the same run.

    .venv/bin/python bench/pipeline_preannotation.py [--images 16] [--size 480x320] [--limit-side 736] [--batch 8]
        [--repeat 3] [--db dlsaas_bench_pipeline] [--keep]

Scratch database (bench/scratch.py), one organisation, a dataset of N synthetic documents (bench/gpu_runtime.py's
renderer) and the demo's PP-OCRv6 text detector registered as an upload is (its trial run included). The pipeline
is trigger -> predict. Two paths, timed in interleaved rounds after a warm-up (median of --repeat):
(a) bare: Pillow resize + numpy normalise + InferenceSession.run in batches, outputs discarded (bench/preannotate.py);
(p) pipeline: `pipeline_run_start` over the N items (the run, its NodeRuns, the outbox), then a Dramatiq worker in this
    process (the embedded mode's StubBroker, 1 worker thread, the production middleware) runs the predict node's
    messages exactly as a `gpu.<region>` worker on Redis would: claims the NodeRuns, reads and decrypts every image
    blob, runs the runtime (pre-processing, batching, DBNet decoding), writes the suggestions through the
    annotation services (validation, revisions, audit, replace by (item, model version)), completes the NodeRuns
    and closes the run. Timed until the run is done.
Prints both in images/s and the overhead of (p) over (a), in wall time and in this process's CPU time (all threads;
the steadier figure on a loaded machine). Target: <= 15 %. Each round of (p) replaces the previous
round's suggestions, as a re-run does.
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
os.environ.setdefault("DLSAAS_VAR_DIR", tempfile.mkdtemp(prefix="dlsaas-bench-pipeline-"))
os.environ.setdefault("DLSAAS_INFERENCE_DEVICE", "cpu")
os.environ["REDIS_URL"] = ""  # the embedded StubBroker: the worker runs in this process, nothing goes to Redis

from scratch import add_scratch_arguments, run_on_scratch  # noqa: E402


def measure(args, app_url: str, reuse: bool) -> None:
    import dramatiq
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from gpu_runtime import DEFAULT_MODEL, documents
    from preannotate import bare_loop

    from apps.automation import tasks  # noqa: F401  (declares the actors on the broker)
    from apps.automation.demo import TEXT_DETECTOR_DECODER, TEXT_DETECTOR_INPUT, TEXT_RECIPE_SPEC
    from apps.automation.models import NodeRun, PipelineRun, PreAnnotation
    from apps.automation.pipeline_engine import pipeline_run_start
    from apps.automation.pipelines import pipeline_create
    from apps.automation.runtime import create_session
    from apps.automation.services import model_create, model_version_register
    from apps.datasets.intake import items_upload
    from apps.datasets.services import dataset_create
    from apps.recipes.services import recipe_create, recipe_publish
    from apps.tenancy.context import system_context, tenant_context
    from apps.tenancy.services import organization_create
    from tests.automation.factories import png_bytes
    from tests.factories import UserFactory

    width, height = (int(v) for v in args.size.lower().split("x"))
    spec = {**TEXT_DETECTOR_INPUT, "limit_side": args.limit_side}
    data = DEFAULT_MODEL.read_bytes()
    images = documents(args.images, width, height)
    with system_context():
        owner = UserFactory()
        org = organization_create(name="Bench", slug=f"bench-{os.getpid()}", region=settings.REGIONS[0], owner=owner)
        recipe = recipe_create(org=org, actor=owner, name="Text", spec=TEXT_RECIPE_SPEC)
        recipe_version = recipe_publish(org=org, actor=owner, recipe=recipe, message="v1")
        dataset = dataset_create(org=org, actor=owner, name="Bench documents")
        files = [SimpleUploadedFile(f"doc{i}.png", png_bytes(im), content_type="image/png")
                 for i, im in enumerate(images)]
        ids = [item.pk for item in items_upload(org=org, actor=owner, dataset=dataset, files=files)]
        model = model_create(org=org, actor=owner, name="Text", task_type="detection", recipe=recipe)
        version = model_version_register(
            org=org, actor=owner, model=model, file=SimpleUploadedFile("det.onnx", data), input_spec=spec,
            decoder=TEXT_DETECTOR_DECODER, label_map={"0": "text"}, recipe_version=recipe_version)
        graph = {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                           {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}}],
                 "edges": [{"from": "start", "to": "predict"}]}
        pipeline = pipeline_create(org=org, actor=owner, name="Pre-label", dataset=dataset, graph=graph)
    connection.close()  # the worker's threads open their own

    broker = dramatiq.get_broker()
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    runs = []

    def through_pipeline() -> None:
        with tenant_context(org, owner):
            run = pipeline_run_start(org=org, actor=owner, pipeline=pipeline, item_ids=ids)
        for queue in list(broker.queues):
            broker.join(queue, fail_fast=True)
        worker.join()
        with system_context():
            status = PipelineRun.objects.get(pk=run.pk).status
        if status != "done":
            raise SystemExit(f"run {run.pk} ended {status}")
        runs.append(run.pk)

    loaded = create_session(data, device="cpu", threads=args.threads)
    print(f"{args.images} images {width}x{height}, PP-OCRv6 det, short side -> {args.limit_side}, batch {args.batch} "
          f"(the pipeline's: {version.signature.get('batch_size')}, as the registry chose), "
          f"providers {loaded.providers}, median of {args.repeat} interleaved rounds, load average "
          f"{os.getloadavg()[0]:.1f}")
    try:
        seconds = interleaved({"bare": lambda: bare_loop(loaded.session, images, args.limit_side, args.batch),
                               "pipeline": through_pipeline}, args.repeat)
    finally:
        worker.stop()
    if args.profile:
        profile_once(broker, lambda: pipeline_run_start(org=org, actor=owner, pipeline=pipeline, item_ids=ids),
                     org, owner)
    with system_context():
        written = sum(len(p.annotation_ids) for p in PreAnnotation.objects.filter(model_version=version))
        rows = NodeRun.objects.filter(run_id=runs[-1], node_id="predict", status="done").count()
    (bare, bare_cpu), (piped, piped_cpu) = seconds["bare"], seconds["pipeline"]
    print(f"(a) bare onnxruntime loop  {args.images / bare:7.2f} images/s  ({bare:.2f} s, CPU {bare_cpu:.2f} s)")
    print(f"(p) pipeline, in-process   {args.images / piped:7.2f} images/s  ({piped:.2f} s, CPU {piped_cpu:.2f} s), "
          f"{rows} predict node runs done, {written} suggestions written per run")
    print(f"overhead of (p) over (a): wall time {100 * (piped / bare - 1):+.1f} %, this process's CPU time "
          f"{100 * (piped_cpu / bare_cpu - 1):+.1f} % (PostgreSQL's own CPU not counted)")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def interleaved(paths: dict, repeat: int) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, CPU seconds of this process, all its threads) per path, in rounds (a, p, a, p, ...)
    after one warm-up each, so load from other processes on a shared machine falls on both alike."""
    for fn in paths.values():
        fn()
    runs = {name: [] for name in paths}
    for _ in range(repeat):
        for name, fn in paths.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in runs.items()}


def profile_once(broker, start, org, owner) -> None:
    """One more run of (p) with the messages taken off the stub broker and run in this thread under cProfile."""
    import cProfile
    import pstats

    from dramatiq import Message

    from apps.tenancy.context import tenant_context

    def body():
        with tenant_context(org, owner):
            start()
        for name in list(broker.queues):
            queue = broker.queues[name]
            while not queue.empty():
                message = Message.decode(queue.get())
                with tenant_context(org):  # what TenantContextMiddleware does for a worker
                    broker.get_actor(message.actor_name).fn(*message.args, **message.kwargs)

    profiler = cProfile.Profile()
    profiler.runcall(body)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"apps/|sealing|commit", 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", default="480x320")
    parser.add_argument("--limit-side", type=int, default=736)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    parser.add_argument("--profile", action="store_true", help="then profile one more run of (p), in this thread")
    add_scratch_arguments(parser, "dlsaas_bench_pipeline")
    args = parser.parse_args()
    run_on_scratch(args, measure)


if __name__ == "__main__":
    main()
