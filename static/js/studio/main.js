// The annotation studio's entry point: reads what the page passed (json_script "studio-data"), loads the image
// and the item's annotations in parallel, wires the store, the renderer, the editor, the panels and autosave,
// binds the toolbar and the keyboard, and preloads the next item (its image and its annotations).
// In queue mode (a task's queue, data.queue) queue.js first pulls the unit to open, and then drives the unit's
// layer, its suggestions and comments, submit/skip or approve/reject, and heartbeats.

import { Editor } from "./editor.js";
import { Panels } from "./panels.js";
import { Queue } from "./queue.js";
import { Recipe } from "./recipe.js";
import { Renderer, perfLog } from "./render.js";
import { Saver, api, describeObject } from "./saver.js";
import { Store } from "./store.js";

const PREFETCH_KEY = "dlsaas.studio.prefetch.";
const PREFETCH_FRESH_MS = 120000;
const TOOL_KEYS = { S: "select", B: "bbox", R: "rotated_bbox", E: "ellipse", P: "point", K: "keypoints", L: "polyline",
  G: "polygon", H: "hole", M: "brush", X: "eraser" };

const data = JSON.parse(document.getElementById("studio-data").textContent);
const perf = perfLog();
const messageEl = document.getElementById("studio-message");
const statusEl = document.getElementById("save-status");

function announce(text) {
  // Re-set the text so that a repeated message is read again by screen readers.
  messageEl.textContent = "";
  window.setTimeout(() => { messageEl.textContent = text; }, 20);
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.decoding = "async";
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("The image could not be loaded."));
    image.src = url;
  });
}

function takePrefetched(itemId) {
  try {
    const raw = sessionStorage.getItem(PREFETCH_KEY + itemId);
    sessionStorage.removeItem(PREFETCH_KEY + itemId);
    if (!raw) return null;
    const stored = JSON.parse(raw);
    return Date.now() - stored.at < PREFETCH_FRESH_MS ? stored.list : null;
  } catch (_) {
    return null;
  }
}

function preloadNext(next) {
  if (!next || !next.content_url) return;
  const image = new Image();
  image.decoding = "async";
  image.src = next.content_url;
  window.__studioNextImage = image; // kept referenced so the download is not dropped
  api(next.annotations_url).then((result) => {
    if (!result.ok) return;
    try {
      sessionStorage.setItem(PREFETCH_KEY + next.id, JSON.stringify({ at: Date.now(), list: result.data }));
    } catch (_) { /* storage full: the next page simply loads them itself */ }
  }).catch(() => {});
}

function typingIn(target) {
  return target instanceof Element && target.closest("input, select, textarea, [contenteditable]");
}

function activatable(target) {
  return target instanceof Element && target.closest("button, a, summary, input, select, textarea");
}

// The current item's objects (store, renderer, editor, panels, saver): the toolbar and the keyboard are bound once
// and act on whatever item is open, so queue mode can swap in the next unit's item without a page load.
const ctx = { editor: null, renderer: null, store: null, saver: null, panels: null };

async function boot() {
  let item = data.item;
  const queue = data.queue ? new Queue(data.queue, { announce, statusEl }) : null;
  if (queue) {
    const opened = await queue.start();
    if (!opened) return;
    item = opened.item;
    queue.onNext = (next) => openItem(next.item, queue);
  }
  const root = document.getElementById("studio-editor");
  if (!root || !data.recipe_version) return;
  const recipe = new Recipe(data.recipe_version.spec, data.recipe_version.id);
  bindToolbar(ctx);
  bindKeyboard(ctx, recipe);
  bindNextLink(ctx);
  await openItem(item, queue, recipe);
  const idle = window.requestIdleCallback || ((fn) => window.setTimeout(fn, 300));
  idle(() => preloadNext(data.next_item));
}

/** Opens an item in the studio: its image, its annotations (a unit's layer in queue mode), panels and autosave.
 * In queue mode the previous unit's objects are let go first. */
async function openItem(item, queue, recipe = ctx.recipe) {
  const root = document.getElementById("studio-editor");
  ctx.recipe = recipe;
  if (ctx.renderer) {
    ctx.renderer.destroy();
    ctx.panels.destroy();
    if (ctx.saver) ctx.saver.destroy();
    if (ctx.editor) ctx.editor.ready = false;
    Object.assign(ctx, { editor: null, renderer: null, store: null, saver: null, panels: null });
  }
  root.dataset.ready = "false";
  if (queue && !item.content_url) {
    queue.stop(`${item.name} has no image to annotate: skip it from the API or ask a manager to reassign it.`);
    return;
  }
  if (!item.content_url) return;
  const canEdit = queue ? queue.canEdit : Boolean(data.can_edit);
  statusEl.dataset.state = "loading";
  statusEl.textContent = "Loading the image and its annotations…";
  const annotationsPromise = api(item.annotations_url).catch(() => null);
  let image;
  annotationsPromise.then(() => { perf.annotationsAt = performance.now(); });
  try {
    image = await loadImage(item.content_url);
    perf.imageAt = performance.now();
  } catch (error) {
    statusEl.dataset.state = "error";
    statusEl.textContent = `${error.message} Reload the page to try again.`;
    return;
  }
  const width = item.width || image.naturalWidth, height = item.height || image.naturalHeight;
  const store = new Store({ width, height, labels: recipe.labels });
  const renderer = new Renderer({ stage: document.getElementById("stage"), image, store, width, height });
  renderer.overlayCanvas.setAttribute("aria-label", `${item.name}, ${width} by ${height} pixels, with its annotations (listed under Objects)`);
  const editor = new Editor({ renderer, store, recipe, canEdit, recipeVersionId: data.recipe_version.id, width, height });
  const describe = (cid) => describeObject(store, cid);
  const panels = new Panels({ store, recipe, editor, canEdit, describe, announce });
  const saver = canEdit ? new Saver({
    store, recipe, changesUrl: item.changes_url, annotationsUrl: item.annotations_url, status: statusEl, describe,
    layer: queue ? queue.unit.layer : null,
  }) : null;
  Object.assign(ctx, { store, renderer, editor, saver, panels });
  window.__studio = { store, renderer, editor, saver, panels, queue };

  // --- Wiring ------------------------------------------------------------------------------------
  const hintEl = document.getElementById("tool-hint");
  editor.onHint = (text) => { hintEl.textContent = text; };
  editor.onAnnounce = announce;
  editor.onTool = (tool) => {
    for (const b of document.querySelectorAll("[data-tool]")) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
  };
  editor.onLabel = (name) => {
    for (const b of document.querySelectorAll("[data-label-choice]")) b.setAttribute("aria-pressed", String(b.dataset.labelChoice === name));
    document.getElementById("current-label").textContent = name;
  };
  let previousSelection = null;
  editor.onSelect = (cid) => {
    panels.markSelected(previousSelection, cid);
    previousSelection = cid;
    panels.showSelection();
  };
  store.onChange((event) => {
    if (event.reason === "load" || event.reason === "view-label") {
      renderer.requestFull();
    } else {
      for (const cid of event.cids) {
        renderer.invalidate(event.oldBoxes.get(cid));
        const obj = store.get(cid);
        if (obj) renderer.invalidate(obj._box);
      }
    }
    if (event.reason === "load" || event.reason === "view-label") panels.refreshAll();
    else panels.updateRows(event.cids);
    if (editor.selection && !store.get(editor.selection)) editor.select(null);
    else if (editor.selection && (event.cids.has(editor.selection) || event.reason === "view-label")) panels.showSelection();
    if (event.reason === "load" || [...event.cids].some((cid) => !store.get(cid) || store.get(cid).type === "classification")) {
      panels.showClassification();
    }
    if (["commit", "undo", "redo"].includes(event.reason) && saver) saver.schedule();
  });
  if (saver) {
    saver.onSaved = (cids) => panels.updateRows(cids);
    saver.onReloaded = (message) => { editor.select(null); announce(message.replace(/^Not saved: /, "")); };
  }
  renderer.onView = (view) => { document.getElementById("zoom-level").textContent = `${Math.round(view.s * 100)}%`; };
  bindBrush(editor, renderer);

  const firstLabel = recipe.spec.labels.find((l) => l.tools.some((t) => t !== "classification")) || recipe.spec.labels[0];
  if (firstLabel) editor.setLabel(firstLabel.name, { relabel: false });
  editor.setTool("select");
  renderer.fit();

  // --- Annotations: what was prefetched on the previous item first, then the current list --------------
  const prefetched = queue ? null : takePrefetched(item.id); // prefetched: the shared annotations, not a layer
  if (prefetched) store.load(prefetched);
  const result = await annotationsPromise;
  if (!result || !result.ok) {
    statusEl.dataset.state = "error";
    statusEl.textContent = `Not loaded: ${(result && result.data && result.data.detail) || "the annotations could not be loaded"}. Reload the page to try again.`;
    return;
  }
  perf.ready = true;
  const loadStart = performance.now();
  store.load(result.data);
  perf.loadMs = performance.now() - loadStart; // the store, the spatial index and the object list
  panels.showSelection();
  panels.showClassification();
  statusEl.dataset.state = canEdit ? "saved" : "readonly";
  statusEl.textContent = canEdit ? "All changes saved" : "Read only: you can look at these annotations but not change them.";
  if (queue) await queue.attach({ store, renderer, editor, saver, describe });
  editor.ready = true;
  root.dataset.ready = "true";
}

function bindToolbar(ctx) {
  for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => ctx.editor && ctx.editor.setTool(b.dataset.tool));
  for (const b of document.querySelectorAll("[data-label-choice]")) b.addEventListener("click", () => ctx.editor && ctx.editor.setLabel(b.dataset.labelChoice));
  const on = (id, fn) => {
    const node = document.getElementById(id);
    if (node) node.addEventListener("click", () => { if (ctx.editor) fn(ctx); });
  };
  const center = ({ renderer }) => [renderer.cssWidth / 2, renderer.cssHeight / 2];
  on("zoom-in", (c) => c.renderer.zoomAt(1.25, ...center(c)));
  on("zoom-out", (c) => c.renderer.zoomAt(0.8, ...center(c)));
  on("zoom-fit", (c) => c.renderer.fit());
  on("undo", (c) => undo(c.editor, c.store));
  on("redo", (c) => redo(c.editor, c.store));
  on("copy", (c) => c.editor.copy());
  on("paste", (c) => c.editor.paste());
  on("delete", (c) => c.editor.deleteSelected());
  on("finish-drawing", (c) => c.editor.enter());
  on("skip-keypoint", (c) => c.editor.skipKeypoint());
  on("save-now", (c) => c.saver && c.saver.flush());
  const size = document.getElementById("brush-size");
  if (size) size.addEventListener("input", () => { if (ctx.editor) applyBrush(ctx.editor, ctx.renderer); });
}

function applyBrush(editor, renderer) {
  const size = document.getElementById("brush-size");
  editor.brushSize = Number(size.value);
  document.getElementById("brush-size-value").textContent = `${size.value} px`;
  renderer.requestOverlay();
}

function bindBrush(editor, renderer) {
  const size = document.getElementById("brush-size");
  if (!size) return;
  applyBrush(editor, renderer);
  editor.setBrushSize = (value) => {
    size.value = String(Math.max(Number(size.min), Math.min(Number(size.max), value)));
    applyBrush(editor, renderer);
  };
}

function undo(editor, store) {
  if (editor.drawing) { editor.backspace(); return; }
  const label = store.undo();
  editor.onAnnounce(label ? `Undone: ${label}.` : "Nothing to undo.");
}

function redo(editor, store) {
  const label = store.redo();
  editor.onAnnounce(label ? `Redone: ${label}.` : "Nothing to redo.");
}

function bindKeyboard(ctx, recipe) {
  const hotkeys = new Map();
  for (const label of recipe.spec.labels) if (label.hotkey) hotkeys.set(label.hotkey, label.name);
  document.addEventListener("keydown", (e) => {
    const { editor, renderer, store, saver } = ctx;
    if (!editor) return;
    const canvas = renderer.overlayCanvas;
    if (typingIn(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    const mod = e.ctrlKey || e.metaKey;
    const onCanvas = e.target === canvas || e.target === document.body;
    if (mod) {
      const key = e.key.toLowerCase();
      if (key === "z") { e.preventDefault(); if (e.shiftKey) redo(editor, store); else undo(editor, store); }
      else if (key === "y") { e.preventDefault(); redo(editor, store); }
      else if (key === "c" && !String(window.getSelection())) { e.preventDefault(); editor.copy(); }
      else if (key === "v") { e.preventDefault(); editor.paste(); }
      else if (key === "s") { e.preventDefault(); if (saver) saver.flush(); }
      return;
    }
    if (e.altKey) return;
    if (e.key === " ") {
      if (activatable(e.target) && !onCanvas) return;
      e.preventDefault();
      editor.spaceDown = true;
      canvas.classList.add("pan-ready");
      return;
    }
    if (e.shiftKey && TOOL_KEYS[e.key]) { e.preventDefault(); editor.setTool(TOOL_KEYS[e.key]); return; }
    if (e.shiftKey && e.key === "F") { e.preventDefault(); renderer.fit(); return; }
    if (e.shiftKey && e.key === "N") { e.preventDefault(); editor.skipKeypoint(); return; }
    if (!e.shiftKey && hotkeys.has(e.key)) { e.preventDefault(); editor.setLabel(hotkeys.get(e.key)); return; }
    switch (e.key) {
      case "Escape": editor.escape(); break;
      case "Enter":
        if (editor.drawing && (onCanvas || !activatable(e.target))) { e.preventDefault(); editor.enter(); }
        break;
      case "Delete": e.preventDefault(); editor.deleteSelected(); break;
      case "Backspace": e.preventDefault(); if (!editor.backspace()) editor.deleteSelected(); break;
      case "+": case "=": e.preventDefault(); renderer.zoomAt(1.25, renderer.cssWidth / 2, renderer.cssHeight / 2); break;
      case "-": case "_": e.preventDefault(); renderer.zoomAt(0.8, renderer.cssWidth / 2, renderer.cssHeight / 2); break;
      case "[": if (editor.setBrushSize) editor.setBrushSize(editor.brushSize - (e.shiftKey ? 10 : 2)); break;
      case "]": if (editor.setBrushSize) editor.setBrushSize(editor.brushSize + (e.shiftKey ? 10 : 2)); break;
      case "ArrowLeft": case "ArrowRight": case "ArrowUp": case "ArrowDown": {
        if (e.target !== canvas) return;
        e.preventDefault();
        const step = e.shiftKey ? 10 : 1;
        const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
        editor.nudge(...d);
        break;
      }
      default:
    }
  });
  document.addEventListener("keyup", (e) => {
    if (e.key === " " && ctx.editor) { ctx.editor.spaceDown = false; ctx.renderer.overlayCanvas.classList.remove("pan-ready"); }
  });
  window.addEventListener("blur", () => {
    if (ctx.editor) { ctx.editor.spaceDown = false; ctx.renderer.overlayCanvas.classList.remove("pan-ready"); }
  });
}

function bindNextLink(ctx) {
  const link = document.getElementById("next-item");
  if (!link || !data.can_edit || data.queue) return;
  let warned = false;
  link.addEventListener("click", async (e) => {
    const { store, saver } = ctx;
    if (!saver || warned || (!saver.inFlight && !store.isDirty())) return;
    e.preventDefault();
    await saver.flush();
    if (!store.isDirty()) { window.location.assign(link.href); return; }
    warned = true;
    announce("Some changes are not saved (see the save status). Press Next item again to leave without them.");
  });
}

boot().catch((error) => {
  statusEl.dataset.state = "error";
  statusEl.textContent = `The studio could not start: ${error.message}`;
  throw error;
});
