"""The studio's save on an item with many model suggestions, with the suggestion-agreement hook and without it, in
the same run.

    .venv/bin/python bench/studio_save_agreement.py [--suggestions 200] [--boxes 200] [--rounds 30]
        [--via api|service] [--profile] [--db dlsaas_bench_agreement] [--keep]

Scratch database (bench/scratch.py), one organisation and its owner, a dataset with a published recipe, one
1920x1080 image item, a registered model version whose `preannotation_replace` put N box suggestions on the item
(three labels), and M boxes people drew through `annotations_change` (half over a suggestion with the same label,
a little off: not misses; half elsewhere: misses). Each save is `POST /api/v1/items/<id>/annotations/changes/`
through Django's test Client with the owner's bearer token (the studio's autosave: authentication, tenant context,
row-level security, validation, revisions, audit, everything but the socket), or with `--via service` the
`annotations_change` call alone, in the owner's tenant context. Four kinds of save, each followed by its undo:

  (1) accept one    one suggestion made non-proposed, then made proposed again (the studio's undo)
  (e) edit one      one suggestion moved by 10 px and accepted, then put back and made proposed again
  (a) accept all    every open suggestion accepted in one save ("Accept all"), then all made proposed again
  (m) move a box    one of the people's boxes moved 5 px and back: no suggestion touched, only the misses

Each kind runs with the hook (apps.automation.agreement.on_annotations_changed registered, as in production) and
with the change listeners emptied, interleaved (on, off, on, off, ...) after a warm-up of each, so load from other
processes falls on both alike. Printed per save: the median and p95 (nearest rank) wall time each way and the
ratio of the medians (hook on / hook off: the baseline), the same for this process's CPU time (steadier on a
shared machine; PostgreSQL's own time is not in it), the hook's own wall time, and the queries one save runs each
way (smallest-largest; counted with connection.execute_wrapper). `--profile` then profiles (cProfile) a few saves
of each kind with the hook.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DLSAAS_VAR_DIR", tempfile.mkdtemp(prefix="dlsaas-bench-agreement-"))

from scratch import add_scratch_arguments, run_on_scratch  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
LABELS = ("car", "person", "text")


def pct(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def spread(values) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def boxes(count: int, seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    out = []
    for i in range(count):
        w, h = rng.uniform(20, 160), rng.uniform(20, 120)
        out.append({"type": "bbox", "label": LABELS[i % len(LABELS)],
                    "geometry": {"x": round(rng.uniform(0, WIDTH - w - 20), 2),
                                 "y": round(rng.uniform(0, HEIGHT - h - 20), 2), "w": round(w, 2), "h": round(h, 2)}})
    return out


def seed(args):
    from django.conf import settings

    from apps.annotations.models import Annotation
    from apps.annotations.services import annotations_change
    from apps.automation.services import preannotation_replace
    from apps.datasets.models import Item
    from apps.datasets.services import dataset_create
    from apps.recipes.services import dataset_recipe_set, recipe_create, recipe_publish
    from apps.tenancy.context import system_context, tenant_context
    from apps.tenancy.services import organization_create
    from tests.automation.factories import TEXT_SPEC, registered_classifier
    from tests.factories import UserFactory

    with system_context():
        owner = UserFactory()
        org = organization_create(name="Bench agreement", slug=f"bench-agreement-{os.getpid()}",
                                  region=settings.REGIONS[0], owner=owner)
    with tenant_context(org, owner):
        recipe = recipe_create(org=org, actor=owner, name="Things", spec=TEXT_SPEC)
        recipe_version = recipe_publish(org=org, actor=owner, recipe=recipe, message="v1")
        dataset = dataset_create(org=org, actor=owner, name="Bench agreement")
        dataset_recipe_set(org=org, actor=owner, dataset=dataset, recipe=recipe)
        item = Item.objects.create(organization=org, dataset=dataset, kind=Item.Kind.IMAGE, name="street.jpg",
                                   folder="/", mime="image/jpeg", size=1024, width=WIDTH, height=HEIGHT)
        version = registered_classifier(org, owner, recipe_version=recipe_version, name="Detector")
        suggested = boxes(args.suggestions, seed=1)
        preannotation_replace(org=org, actor=owner, item=item, model_version=version, annotations=[
            {**box, "source": "model", "review_state": "proposed", "confidence": 0.8} for box in suggested])
        drawn = []
        for i, box in enumerate(boxes(args.boxes, seed=2)):
            if i % 2 == 0 and i // 2 < len(suggested):  # over a suggestion, the same label, a little off
                over = suggested[i // 2]
                g = over["geometry"]
                box = {**over, "geometry": {**g, "x": g["x"] + 2, "y": g["y"] + 1}}
            drawn.append(box)
        annotations_change(org=org, actor=owner, item=item, create=drawn)
        people = list(Annotation.objects.for_org(org).filter(item=item).exclude(source="model").order_by("id"))
    return org, owner, item, people


def measure(args, app_url: str, reuse: bool) -> None:
    from django.db import connection
    from django.test import Client

    from apps.accounts.services import token_create
    from apps.annotations import change_hooks
    from apps.annotations.models import Annotation
    from apps.annotations.services import annotations_change
    from apps.automation.models import SuggestionOutcome
    from apps.tenancy.context import tenant_context

    started = time.perf_counter()
    org, owner, item, people = seed(args)
    with tenant_context(org, owner):
        token = token_create(org=org, actor=owner, name="bench", days=1)[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
    print(f"seeded {args.suggestions} suggestions and {len(people)} people's boxes on one {WIDTH}x{HEIGHT} item in "
          f"{time.perf_counter() - started:.1f} s; saves through "
          f"{'POST /api/v1/items/<id>/annotations/changes/' if args.via == 'api' else 'annotations_change'}")

    def read(fn):
        with tenant_context(org, owner):
            return fn()

    def model_rows(**extra):
        return read(lambda: list(Annotation.objects.for_org(org).filter(item=item, source="model", **extra)
                                 .order_by("id")))

    def ref(a):
        return {"id": a.pk, "version": a.version}

    # Per save: wall and CPU time (this process: Django, the hook's Python; not PostgreSQL's), the hook's own wall
    # time, and the queries. The reads that prepare a save are not counted.
    sample = {"wall": [], "cpu": [], "hook": [], "queries": []}

    def count(execute, sql, params, many, context):
        sample["queries"][-1] += 1
        return execute(sql, params, many, context)

    def timed_listener(listener):
        def run(**kwargs):
            t = time.perf_counter()
            listener(**kwargs)
            sample["hook"][-1] += (time.perf_counter() - t) * 1000
        return run

    def save(**changes):
        sample["queries"].append(0)
        sample["hook"].append(0.0)
        with connection.execute_wrapper(count):
            wall, cpu = time.perf_counter(), time.process_time()
            if args.via == "api":
                response = client.post(f"/api/v1/items/{item.pk}/annotations/changes/", changes,
                                       content_type="application/json")
                if response.status_code != 200:
                    raise SystemExit(f"save answered {response.status_code}: {response.content[:500]!r}")
            else:
                with tenant_context(org, owner):
                    annotations_change(org=org, actor=owner, item=item, **changes)
            sample["cpu"].append((time.process_time() - cpu) * 1000)
            sample["wall"].append((time.perf_counter() - wall) * 1000)

    def accept_one():
        a = model_rows()[0]
        save(update=[{**ref(a), "review_state": ""}])
        a = model_rows(pk=a.pk)[0]
        save(update=[{**ref(a), "review_state": "proposed"}])

    def edit_one():
        a = model_rows()[1]
        g = a.geometry
        save(update=[{**ref(a), "review_state": "", "geometry": {**g, "x": g["x"] + 10}}])
        a = model_rows(pk=a.pk)[0]
        save(update=[{**ref(a), "review_state": "proposed", "geometry": g}])

    def accept_all():
        open_ = model_rows(review_state="proposed")
        save(update=[{**ref(a), "review_state": ""} for a in open_])
        kept = model_rows(pk__in=[a.pk for a in open_])
        save(update=[{**ref(a), "review_state": "proposed"} for a in kept])

    def move_box():
        a = read(lambda: Annotation.objects.for_org(org).get(pk=people[-1].pk))
        g = a.geometry
        save(update=[{**ref(a), "geometry": {**g, "x": g["x"] + 5}}])
        a = read(lambda: Annotation.objects.for_org(org).get(pk=a.pk))
        save(update=[{**ref(a), "geometry": g}])

    kinds = {"(1) accept one + undo": accept_one, "(e) edit one + undo": edit_one,
             "(a) accept all + undo all": accept_all, "(m) move a box and back": move_box}
    listeners = list(change_hooks.LISTENERS)

    @contextmanager
    def hook(enabled: bool):
        change_hooks.LISTENERS[:] = [timed_listener(listener) for listener in listeners] if enabled else []
        try:
            yield
        finally:
            change_hooks.LISTENERS[:] = listeners

    print(f"{args.rounds} rounds per kind (each two saves: there and back), hook on/off interleaved after a warm-up; "
          f"load average {os.getloadavg()[0]:.2f}. Per save, median (p95 nearest rank):")
    print(f"  {'save':<26} {'hook on':>18} {'hook off':>18} {'on/off':>6}  {'CPU on / off':>15} {'on/off':>6}  "
          f"{'hook alone':>10}  queries on / off")
    for name, step in kinds.items():
        runs = {}
        for enabled in (True, False):
            with hook(enabled):
                step()
        for _ in range(args.rounds):
            for enabled in (True, False):
                for values in sample.values():
                    values.clear()
                with hook(enabled):
                    step()
                for key, values in sample.items():
                    runs.setdefault((enabled, key), []).extend(values)
        wall_on, wall_off = (statistics.median(runs[e, "wall"]) for e in (True, False))
        cpu_on, cpu_off = (statistics.median(runs[e, "cpu"]) for e in (True, False))
        print(f"  {name:<26} {wall_on:7.1f} ({pct(runs[True, 'wall'], 0.95):6.1f}) ms "
              f"{wall_off:7.1f} ({pct(runs[False, 'wall'], 0.95):6.1f}) ms {wall_on / wall_off:5.2f}x  "
              f"{cpu_on:6.1f} / {cpu_off:6.1f} ms {cpu_on / cpu_off:5.2f}x  "
              f"{statistics.median(runs[True, 'hook']):7.1f} ms  "
              f"{spread(runs[True, 'queries'])} / {spread(runs[False, 'queries'])}")
    counts = read(lambda: {o: SuggestionOutcome.objects.for_org(org).filter(item=item, outcome=o).count()
                           for o in SuggestionOutcome.Outcome.values})
    print(f"outcome rows after the run (every step ends undone): {counts}")
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(lambda: [step() for step in kinds.values() for _ in range(3)])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"agreement|quality/metrics|change_hooks", 30)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suggestions", type=int, default=200)
    parser.add_argument("--boxes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--via", choices=("api", "service"), default="api",
                        help="save through the changes API (as the studio does) or call annotations_change")
    parser.add_argument("--profile", action="store_true", help="then profile a few saves of each kind, hook on")
    add_scratch_arguments(parser, "dlsaas_bench_agreement")
    args = parser.parse_args()
    run_on_scratch(args, measure)


if __name__ == "__main__":
    main()
