"""The annotation studio in headless Chromium with 2,000 objects on a 4,000x3,000 image (issue 4: smooth past the
~1,000 objects where peers' studios start to lag).

    ./scripts/ensure-services.sh && ./scripts/ensure-chromium.sh
    .venv/bin/python bench/studio_render.py [--objects 2000] [--width 4000] [--height 3000] [--loads 5] [--drags 3]

Creates a scratch database (`dlsaas_bench_studio`, owned by the application role), migrates it, collects the static
files into a temporary folder, and seeds through the services: an organisation and its owner, a dataset with a
published recipe (three labels), one generated JPEG uploaded with items_upload, and N annotations (half boxes, half
polygons of 5 to 12 vertices) written with annotations_change. daphne serves the application; Playwright drives
Debian's Chromium (headless, software rendering, 1600x1000 viewport), signs in and opens the studio --loads times.

The studio records each render in window.__studioPerf (static/js/studio/render.js): the kind (full: image and every
object; partial: the shapes layer inside a changed rectangle; overlay: the selection, handles and the dragged
object) and its duration from performance.now(). Printed, as median and p95 (nearest rank):
- load to first full render: navigation start to the end of the first render with the annotations drawn;
- full render: one complete redraw of image + N objects (what a zoom or pan frame costs), forced 20 times per load;
  Chromium records canvas calls and rasterises them later, so the same redraw is also timed with a 1-pixel
  getImageData of each layer after it, which forces the rasterisation inside the measurement;
- hover: the pointermove handler without a button pressed (hit test through the spatial index);
- drag frame: per animation frame while one box is dragged: the pointermove handler, the overlay render (with a
  1-pixel read, so rasterising included) and the interval between frames (requestAnimationFrame timestamps) over
  --drag-steps mouse moves per drag;
- drop: the partial redraw after the drag ends (only the rectangle the object left and entered).
The ratio full render / drag frame is what lifting the dragged object onto its own layer saves per frame.
"""

import argparse
import io
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scratch
from bench.scratch import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "bench studio password 1"
SPEC = {
    "labels": [
        {"name": "car", "color": "#e15759", "hotkey": "1", "tools": ["bbox", "polygon"]},
        {"name": "truck", "color": "#4e79a7", "hotkey": "2", "tools": ["bbox", "polygon"]},
        {"name": "person", "color": "#59a14f", "hotkey": "3", "tools": ["bbox", "polygon"]},
    ],
}


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def line(name: str, values) -> str:
    if not values:
        return f"  {name:<44} (no samples)"
    return (f"  {name:<44} median {statistics.median(values):8.2f} ms   p95 {pct(values, 0.95):8.2f} ms   "
            f"n={len(values)}")


def jpeg(width: int, height: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(4)
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 200)),
                       fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def annotations(count: int, width: int, height: int) -> list[dict]:
    """Half boxes, half convex polygons (5-12 vertices), spread over the image; one known box first."""
    import math

    rng = random.Random(7)
    labels = [label["name"] for label in SPEC["labels"]]
    out = [{"type": "bbox", "label": "car", "geometry": {"x": width / 2 - 150, "y": height / 2 - 100, "w": 300,
                                                          "h": 200}}]
    for i in range(1, count):
        w, h = rng.uniform(20, 220), rng.uniform(20, 180)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        label = labels[i % len(labels)]
        if i % 2:
            out.append({"type": "bbox", "label": label, "geometry": {"x": round(x, 2), "y": round(y, 2),
                                                                      "w": round(w, 2), "h": round(h, 2)}})
        else:
            n = rng.randint(5, 12)
            cx, cy = x + w / 2, y + h / 2
            ring = [[round(cx + w / 2 * math.cos(2 * math.pi * k / n), 2),
                     round(cy + h / 2 * math.sin(2 * math.pi * k / n), 2)] for k in range(n)]
            out.append({"type": "polygon", "label": label, "geometry": {"exterior": ring, "holes": []}})
    return out


def seed(args) -> int:
    """The organisation, owner, dataset, recipe, image item and annotations; returns the item id."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.annotations.services import annotations_change
    from apps.datasets.intake import items_upload
    from apps.datasets.services import dataset_create
    from apps.recipes.services import dataset_recipe_set, recipe_create, recipe_publish
    from apps.tenancy.context import system_context, tenant_context
    from apps.tenancy.models import Membership, Organization
    from apps.tenancy.roles import Role

    with system_context():
        org = Organization.objects.create(name="Bench studio", slug="bench-studio", region="eu")
        user = get_user_model().objects.create_user(email="owner@bench-studio.example.test", password=PASSWORD)
        Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    with tenant_context(org, user):
        dataset = dataset_create(org=org, actor=user, name="Bench studio")
        recipe = recipe_create(org=org, actor=user, name="Bench", spec=SPEC)
        recipe_publish(org=org, actor=user, recipe=recipe, message="bench")
        dataset_recipe_set(org=org, actor=user, dataset=dataset, recipe=recipe)
        started = time.perf_counter()
        content = jpeg(args.width, args.height)
        upload = SimpleUploadedFile("bench-4k.jpg", content, content_type="image/jpeg")
        item = items_upload(org=org, actor=user, dataset=dataset, files=[upload])[0]
        rows = annotations(args.objects, args.width, args.height)
        for start in range(0, len(rows), 1000):
            annotations_change(org=org, actor=user, item=item, create=rows[start:start + 1000])
    print(f"seeded a {args.width}x{args.height} JPEG ({len(content) / 1e6:.1f} MB) and {len(rows):,} annotations "
          f"in {time.perf_counter() - started:.1f}s")
    return item.pk


def serve(env: dict, log_path: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "dlsaas.asgi:application"], cwd=ROOT, env=env, stdout=log_path.open("wb"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        if proc.poll() is not None:
            raise SystemExit(f"daphne exited: see {log_path}")
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("daphne did not start listening in 30 s")


OPEN_HOOKS = """() => {
  const s = window.__studio, perf = window.__studioPerf;
  perf.moves = [];
  const move = s.editor._move.bind(s.editor);
  s.editor._move = (e) => { const t = performance.now(); move(e); perf.moves.push(performance.now() - t); };
  // While perf.forceRaster is set, each overlay render ends with a 1-pixel read, so its time includes rasterising.
  const r = s.renderer, drawOverlay = r._drawOverlay.bind(r);
  r._drawOverlay = () => { drawOverlay(); if (perf.forceRaster) r.layers.overlay.ctx.getImageData(0, 0, 1, 1); };
  perf.frames = [];
  perf.recording = false;
  const tick = (t) => { if (perf.recording) perf.frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""

FORCE_FULL = """async (times) => {
  // A pan of 3 pixels, drawn by the next animation frame; then the same draw run synchronously with a 1-pixel
  // read of each layer, which makes Chromium rasterise the recorded drawing before the clock stops.
  const r = window.__studio.renderer, perf = window.__studioPerf;
  const raster = [];
  for (let i = 0; i < times; i++) {
    r.panBy(i % 2 ? 3 : -3, 0);
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  }
  const base = [], shapes = [];
  for (let i = 0; i < times; i++) {
    r.view = { ...r.view, tx: r.view.tx + (i % 2 ? 3 : -3) };
    r.pendingFull = true;
    const t0 = performance.now();
    r._frame();
    for (const layer of Object.values(r.layers)) layer.ctx.getImageData(0, 0, 1, 1);
    raster.push(performance.now() - t0);
    const t1 = performance.now();
    r._drawBase();
    r.layers.base.ctx.getImageData(0, 0, 1, 1);
    const t2 = performance.now();
    r._drawShapesFull();
    r.layers.shapes.ctx.getImageData(0, 0, 1, 1);
    base.push(t2 - t1);
    shapes.push(performance.now() - t2);
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return { raster, base, shapes };
}"""


CENTRE = """() => {
  const r = window.__studio.renderer, rect = r.overlayCanvas.getBoundingClientRect();
  const [x, y] = r.toScreen(r.width / 2, r.height / 2);
  return [rect.left + x, rect.top + y];
}"""
DRAG_START = """() => {
  const p = window.__studioPerf;
  p.moves = []; p.frames = []; p.recording = true; p.forceRaster = true; p.mark = p.renders.length;
}"""
DRAG_END = """() => {
  const p = window.__studioPerf;
  p.recording = false; p.forceRaster = false;
  const out = {renders: p.renders.slice(p.mark), moves: p.moves.slice(), frames: p.frames.slice()};
  p.mark = p.renders.length;
  return out;
}"""
NEXT_FRAME = "() => new Promise((resolve) => requestAnimationFrame(() => resolve()))"
FIRST = """() => { const p = window.__studioPerf; return {first: p.firstFullRender, firstMs: p.firstFullRenderMs,
  image: p.imageAt, annotations: p.annotationsAt, load: p.loadMs, count: window.__studio.store.objects.size}; }"""


def measure_page(page, url: str, item_id: int, args) -> dict:
    page.goto(f"{url}/o/bench-studio/items/{item_id}/annotate/")
    page.wait_for_selector("#studio-editor[data-ready=true]", timeout=120_000)
    page.wait_for_function("() => window.__studioPerf.firstFullRender !== null", timeout=120_000)
    result = page.evaluate(FIRST)
    page.evaluate(OPEN_HOOKS)
    start = page.evaluate("() => window.__studioPerf.renders.length")
    raster = page.evaluate(FORCE_FULL, 20)
    renders = page.evaluate("(start) => window.__studioPerf.renders.slice(start)", start)
    result["full"] = [r["ms"] for r in renders if r["kind"] == "full"][:20]
    result.update(full_raster=raster["raster"], base_raster=raster["base"], shapes_raster=raster["shapes"])
    result["drawn"] = max((r["count"] for r in renders if r["kind"] == "full"), default=0)

    # Hover: sweep the pointer across the image (no button).
    box = page.locator("#stage canvas.stage-overlay").bounding_box()
    page.evaluate("() => { window.__studioPerf.moves = []; }")
    for k in range(60):
        x, y = box["x"] + 20 + k * (box["width"] - 40) / 60, box["y"] + box["height"] * (0.3 + k % 7 * 0.05)
        page.mouse.move(x, y)
    result["hover"] = page.evaluate("() => window.__studioPerf.moves.slice()")

    # Drag the object under the image centre (the known box, unless a smaller one lies on it) there and back.
    centre = page.evaluate(CENTRE)
    result.update(drag_overlay=[], drag_move=[], drag_interval=[], drop=[])
    for d in range(args.drags):
        dx, dy = (120, 60) if d % 2 == 0 else (-120, -60)
        page.mouse.move(*centre)
        page.evaluate(DRAG_START)
        page.mouse.down()
        page.mouse.move(centre[0] + dx, centre[1] + dy, steps=args.drag_steps)
        page.evaluate(NEXT_FRAME)
        during = page.evaluate(DRAG_END)
        page.mouse.up()
        page.evaluate(NEXT_FRAME)
        page.evaluate(NEXT_FRAME)
        after = page.evaluate("() => window.__studioPerf.renders.slice(window.__studioPerf.mark)")
        result["drag_overlay"] += [r["ms"] for r in during["renders"] if r["kind"] == "overlay"]
        result["drag_move"] += during["moves"]
        result["drag_interval"] += [b - a for a, b in itertools.pairwise(during["frames"])]
        result["drop"] += [r["ms"] for r in after if r["kind"] == "partial"]
        centre = [centre[0] + dx, centre[1] + dy]
    return result


def run(args) -> None:
    from playwright.sync_api import sync_playwright

    item_id = seed(args)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_ALLOW_ASYNC_UNSAFE": ""}
    log_path = Path(tempfile.gettempdir()) / "bench-studio-daphne.log"
    proc, url = serve(env, log_path)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/accounts/login/")
            page.get_by_label("Email address").fill("owner@bench-studio.example.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            results = [measure_page(page, url, item_id, args) for _ in range(args.loads)]
            version = browser.version
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    if errors:
        print("page errors:", *errors, sep="\n  ")
    def collect(key: str) -> list[float]:
        return [v for r in results for v in r[key]]

    print(f"\nChromium {version} (headless, software rendering), {args.loads} page loads, {results[0]['count']:,} "
          f"objects on {args.width}x{args.height}, {results[0]['drawn']:,} drawn per full render")
    print(line("load to first full render (since navigation)", [r["first"] for r in results]))
    print(line("  image loaded and decoded (since navigation)", [r["image"] for r in results]))
    print(line("  annotations fetched (since navigation)", [r["annotations"] for r in results]))
    print(line("  store + spatial index + object list built", [r["load"] for r in results]))
    print(line("  first full render (draw only)", [r["firstMs"] for r in results]))
    full = collect("full_raster")
    print(line("full render: image + all objects (recorded)", collect("full")))
    print(line("full render incl. rasterising (1-px reads)", full))
    print(line("  of which the image layer", collect("base_raster")))
    print(line("  of which the shapes layer", collect("shapes_raster")))
    print(line("hover: pointermove incl. hit test", collect("hover")))
    print(line("drag frame: pointermove handler", collect("drag_move")))
    overlay = collect("drag_overlay")
    print(line("drag frame: overlay render incl. rasterising", overlay))
    print(line("drag frame: interval between frames", collect("drag_interval")))
    print(line("drop: partial redraw of the shapes layer", collect("drop")))
    if full and overlay:
        print(f"  full render / drag frame render, both rasterised (median): "
              f"{statistics.median(full) / statistics.median(overlay):,.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--loads", type=int, default=5, help="page loads measured")
    parser.add_argument("--drags", type=int, default=3, help="drags per page load")
    parser.add_argument("--drag-steps", type=int, default=60, help="mouse moves per drag")
    parser.add_argument("--db", default="dlsaas_bench_studio", help="scratch database (dropped and recreated)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--app-role", default="dlsaas")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database in place")
    args = parser.parse_args()

    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)")
    app_url = f"postgresql://{args.app_role}@127.0.0.1:5432/{args.db}"
    create_database(args.admin_url, args.db, args.app_role)
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as var_dir:
        # The server process inherits these: the scratch database, storage under a temporary folder, and
        # static files collected there (served by WhiteNoise, as in production; DEBUG off).
        os.environ["DLSAAS_VAR_DIR"] = var_dir
        os.environ["STATIC_ROOT"] = str(Path(var_dir) / "static")
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
        try:
            scratch.setup_django(app_url)
            from django.core.management import call_command

            call_command("collectstatic", interactive=False, verbosity=0)
            run(args)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep:
                drop_database(args.admin_url, args.db)
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
