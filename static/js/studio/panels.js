// The studio's side panels, as plain DOM (text only, never HTML from data): the object list grouped by label
// with hide/lock per object and per label, the model suggestions, the selected object's attributes, and the
// item-level classification. Rows are updated one by one as objects change, never rebuilt for one change.

import { TYPE_NAMES } from "./geometry.js";
import { valueError } from "./recipe.js";

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function button(text, props = {}) {
  return el("button", { type: "button", className: "button button-small button-secondary", text, ...props });
}

/** Rebuilds a container's children and puts the focus back on the element that had it (by id). */
function rebuild(container, build) {
  const active = document.activeElement && container.contains(document.activeElement) ? document.activeElement.id : null;
  container.textContent = "";
  build();
  if (active) {
    const again = document.getElementById(active);
    if (again) again.focus();
  }
}

/** One form field for an attribute; `onChange(value)` gets the new value (null: not set) once it is valid. */
export function attributeField(attribute, value, { prefix, disabled, error, onChange }) {
  // Stable ids (the same field after a rebuild gets the focus back); names are made safe for an id.
  const id = `${prefix}-${attribute.name}`.replace(/[^A-Za-z0-9_-]/g, (ch) => `_${ch.charCodeAt(0).toString(16)}`);
  const errorId = `${id}-error`;
  const required = attribute.required ? el("span", { className: "required", text: " (required)" }) : null;
  const message = el("p", { className: "field-error-text", id: errorId, text: error || "", hidden: !error });
  const say = (text) => { message.textContent = text || ""; message.hidden = !text; };
  const commit = (next) => {
    const problem = next === null ? null : valueError(attribute, next);
    if (problem) { say(`Not applied: ${problem}`); return; }
    say("");
    onChange(next);
  };
  const describedBy = error ? errorId : null;
  if (attribute.type === "multi_enum") {
    const chosen = new Set(Array.isArray(value) ? value : []);
    const boxes = attribute.options.map((option, i) => {
      const boxId = `${id}-${i}`;
      const box = el("input", { type: "checkbox", id: boxId, value: option, disabled, checked: chosen.has(option) });
      box.addEventListener("change", () => {
        const picked = attribute.options.filter((_, k) => document.getElementById(`${id}-${k}`).checked);
        commit(picked.length ? picked : null);
      });
      return el("div", { className: "check" }, box, el("label", { for: boxId, text: option }));
    });
    return el("fieldset", { className: `attr-field${error ? " field-has-error" : ""}`, "aria-describedby": describedBy },
      el("legend", { text: attribute.name }, required), ...boxes, message);
  }
  let input;
  if (attribute.type === "enum") {
    input = el("select", { id, disabled, "aria-describedby": describedBy, "aria-invalid": error ? "true" : null },
      el("option", { value: "", text: "— not set —" }),
      ...attribute.options.map((option) => el("option", { value: option, text: option, selected: option === value })));
    input.addEventListener("change", () => commit(input.value === "" ? null : input.value));
  } else if (attribute.type === "boolean") {
    input = el("input", { type: "checkbox", id, disabled, checked: value === true, "aria-describedby": describedBy });
    input.addEventListener("change", () => commit(input.checked));
    return el("div", { className: "attr-field check" }, input, el("label", { for: id, text: attribute.name }, required), message);
  } else if (attribute.type === "number") {
    input = el("input", { type: "number", id, step: "any", disabled, min: attribute.min ?? null, max: attribute.max ?? null,
      value: typeof value === "number" ? String(value) : "", "aria-describedby": describedBy, "aria-invalid": error ? "true" : null });
    input.addEventListener("change", () => {
      const raw = input.value.trim();
      if (raw === "") { commit(null); return; }
      const number = Number(raw);
      if (!Number.isFinite(number)) { say("Not applied: must be a number."); return; }
      commit(number);
    });
  } else {
    input = el("input", { type: "text", id, maxlength: "10000", disabled, value: typeof value === "string" ? value : "",
      "aria-describedby": describedBy, "aria-invalid": error ? "true" : null });
    input.addEventListener("change", () => commit(input.value === "" ? null : input.value));
  }
  const range = attribute.type === "number" && (attribute.min != null || attribute.max != null)
    ? el("span", { className: "helptext", text: rangeText(attribute) }) : null;
  return el("div", { className: `field attr-field${error ? " field-has-error" : ""}` },
    el("label", { for: id, text: attribute.name }, required), input, range, message);
}

function rangeText(attribute) {
  if (attribute.min != null && attribute.max != null) return `From ${attribute.min} to ${attribute.max}.`;
  return attribute.min != null ? `At least ${attribute.min}.` : `At most ${attribute.max}.`;
}

export class Panels {
  constructor({ store, recipe, editor, canEdit, describe, announce }) {
    this.store = store;
    this.recipe = recipe;
    this.editor = editor;
    this.canEdit = canEdit;
    this.describe = describe;
    this.announce = announce;
    this.groupsEl = document.getElementById("object-groups");
    this.proposalsEl = document.getElementById("proposal-list");
    this.proposalCount = document.getElementById("proposal-count");
    this.proposalActions = document.getElementById("proposal-actions");
    this.selectionEl = document.getElementById("selection-panel");
    this.classificationEl = document.getElementById("classification-panel");
    this.rows = new Map(); // cid -> li
    this.groups = new Map(); // label -> {section, list, count, hide, lock}
    this.groupsEl.textContent = "";
    this.proposalsEl.textContent = "";
    this._buildGroups();
    this._onRowClick = (e) => this._rowClick(e);
    this._onAcceptAll = () => this._acceptAll();
    this.groupsEl.addEventListener("click", this._onRowClick);
    this.proposalsEl.addEventListener("click", this._onRowClick);
    const acceptAll = document.getElementById("accept-all");
    if (acceptAll) acceptAll.addEventListener("click", this._onAcceptAll);
  }

  /** Lets go of the page's panels (queue mode: the next unit's panels take them over). */
  destroy() {
    this.groupsEl.removeEventListener("click", this._onRowClick);
    this.proposalsEl.removeEventListener("click", this._onRowClick);
    const acceptAll = document.getElementById("accept-all");
    if (acceptAll) acceptAll.removeEventListener("click", this._onAcceptAll);
  }

  // --- Object list ---------------------------------------------------------------------------

  _buildGroups() {
    for (const label of this.recipe.spec.labels) {
      if (label.tools.length === 1 && label.tools[0] === "classification") continue;
      this._addGroup(label);
    }
  }

  _addGroup(label) {
    const headingId = `layer-group-${this.groups.size}`;
    const count = el("span", { className: "layer-count", text: "0" });
    const hide = button("Hide all", { "aria-pressed": "false", "aria-label": `Hide all ${label.name}`, dataset: { action: "hide-label", label: label.name } });
    const lock = button("Lock all", { "aria-pressed": "false", "aria-label": `Lock all ${label.name}`, dataset: { action: "lock-label", label: label.name } });
    const list = el("ol", { className: "layer-rows", "aria-labelledby": headingId });
    const section = el("section", { className: "layer-group", dataset: { label: label.name } },
      el("div", { className: "layer-group-head" },
        el("h3", { id: headingId },
          el("span", { className: "swatch", style: `background:${label.color}`, "aria-hidden": "true" }),
          el("span", { className: "layer-label-name", text: label.name }), " ", count),
        el("div", { className: "button-row" }, hide, lock)),
      list);
    this.groupsEl.append(section);
    this.groups.set(label.name, { section, list, count, hide, lock });
  }

  _rowText(obj) {
    const id = this.store.serverId(obj.cid);
    const base = `${TYPE_NAMES[obj.type]}${id ? ` #${id}` : " (new)"}`;
    if (obj.review_state === "proposed") {
      return `${obj.label} ${base.toLowerCase()}${obj.confidence != null ? ` · ${Math.round(obj.confidence * 100)}%` : ""}`;
    }
    return base;
  }

  _makeRow(obj) {
    const proposed = obj.review_state === "proposed";
    const li = el("li", { className: "layer-row", dataset: { cid: obj.cid } });
    li.append(el("button", { type: "button", className: "layer-select", dataset: { action: "select" } }),
      el("span", { className: "layer-error" }));
    if (proposed) {
      if (this.canEdit) {
        li.append(button("Accept", { dataset: { action: "accept" } }), button("Edit", { dataset: { action: "edit" } }),
          button("Reject", { className: "button button-small button-danger", dataset: { action: "reject" } }));
      }
    } else {
      li.append(button("Hide", { dataset: { action: "hide" }, "aria-pressed": "false" }),
        button("Lock", { dataset: { action: "lock" }, "aria-pressed": "false" }));
    }
    return li;
  }

  _fillRow(li, obj) {
    const text = this._rowText(obj);
    const desc = this.describe(obj.cid);
    const select = li.querySelector(".layer-select");
    select.textContent = text;
    select.setAttribute("aria-pressed", String(this.editor.selection === obj.cid));
    li.classList.toggle("selected", this.editor.selection === obj.cid);
    const hidden = this.store.hidden.has(obj.cid), locked = this.store.locked.has(obj.cid);
    li.classList.toggle("is-hidden", this.store.isHidden(obj));
    li.classList.toggle("is-locked", this.store.isLocked(obj));
    const hide = li.querySelector('[data-action="hide"]'), lock = li.querySelector('[data-action="lock"]');
    if (hide) {
      hide.textContent = hidden ? "Show" : "Hide";
      hide.setAttribute("aria-pressed", String(hidden));
      hide.setAttribute("aria-label", `${hidden ? "Show" : "Hide"} ${desc}`);
    }
    if (lock) {
      lock.textContent = locked ? "Unlock" : "Lock";
      lock.setAttribute("aria-pressed", String(locked));
      lock.setAttribute("aria-label", `${locked ? "Unlock" : "Lock"} ${desc}`);
    }
    for (const action of ["accept", "edit", "reject"]) {
      const b = li.querySelector(`[data-action="${action}"]`);
      if (b) b.setAttribute("aria-label", `${action[0].toUpperCase()}${action.slice(1)} ${desc}`);
    }
    const errors = this.store.errors.get(obj.cid);
    const errorEl = li.querySelector(".layer-error");
    errorEl.textContent = errors ? `Not saved: ${Object.values(errors)[0]}` : "";
    li.classList.toggle("has-error", Boolean(errors));
  }

  _listFor(obj) {
    if (obj.review_state === "proposed") return this.proposalsEl;
    let group = this.groups.get(obj.label);
    if (!group) {
      // A label of an older recipe version that this item's annotations still carry.
      this._addGroup({ name: obj.label, color: "#888888" });
      group = this.groups.get(obj.label);
    }
    return group.list;
  }

  /** Brings the rows of these objects up to date (added, changed, moved to another list, removed). */
  updateRows(cids) {
    for (const cid of cids) {
      const obj = this.store.get(cid);
      let li = this.rows.get(cid);
      const list = obj && obj.type !== "classification" ? this._listFor(obj) : null;
      if (!list) {
        if (li) { li.remove(); this.rows.delete(cid); }
        continue;
      }
      const proposed = obj.review_state === "proposed";
      if (li && (li.parentElement !== list || li.dataset.proposed !== String(proposed))) {
        li.remove();
        this.rows.delete(cid);
        li = null;
      }
      if (!li) {
        li = this._makeRow(obj);
        li.dataset.proposed = String(proposed);
        list.append(li);
        this.rows.set(cid, li);
      }
      this._fillRow(li, obj);
    }
    this._counts();
  }

  refreshAll() {
    for (const li of this.rows.values()) li.remove();
    this.rows.clear();
    const fragmentByList = new Map();
    for (const obj of this.store.objects.values()) {
      if (obj.type === "classification") continue;
      const list = this._listFor(obj);
      if (!list) continue;
      const li = this._makeRow(obj);
      li.dataset.proposed = String(obj.review_state === "proposed");
      this._fillRow(li, obj);
      this.rows.set(obj.cid, li);
      if (!fragmentByList.has(list)) fragmentByList.set(list, document.createDocumentFragment());
      fragmentByList.get(list).append(li);
    }
    for (const [list, fragment] of fragmentByList) list.append(fragment);
    this._counts();
  }

  _counts() {
    for (const [name, group] of this.groups) {
      const n = group.list.children.length;
      group.count.textContent = `(${n})`;
      const hidden = this.store.hiddenLabels.has(name), locked = this.store.lockedLabels.has(name);
      group.hide.textContent = hidden ? "Show all" : "Hide all";
      group.hide.setAttribute("aria-pressed", String(hidden));
      group.hide.setAttribute("aria-label", `${hidden ? "Show" : "Hide"} all ${name}`);
      group.lock.textContent = locked ? "Unlock all" : "Lock all";
      group.lock.setAttribute("aria-pressed", String(locked));
      group.lock.setAttribute("aria-label", `${locked ? "Unlock" : "Lock"} all ${name}`);
      group.section.classList.toggle("is-empty", n === 0);
    }
    const proposals = this.proposalsEl.children.length;
    this.proposalCount.textContent = `(${proposals})`;
    if (this.proposalActions) this.proposalActions.hidden = proposals === 0 || !this.canEdit;
    document.getElementById("proposal-empty").hidden = proposals > 0;
  }

  markSelected(previous, current) {
    for (const cid of [previous, current]) {
      const li = cid && this.rows.get(cid);
      const obj = cid && this.store.get(cid);
      if (li && obj) this._fillRow(li, obj);
    }
    const li = current && this.rows.get(current);
    if (li) li.scrollIntoView({ block: "nearest" });
  }

  _rowClick(e) {
    const target = e.target.closest("button[data-action]");
    if (!target) return;
    const action = target.dataset.action;
    if (action === "hide-label" || action === "lock-label") {
      const kind = action === "hide-label" ? "hidden" : "locked";
      const set = kind === "hidden" ? this.store.hiddenLabels : this.store.lockedLabels;
      this.store.setLabelFlag(kind, target.dataset.label, !set.has(target.dataset.label));
      return;
    }
    const li = target.closest("li[data-cid]");
    const cid = li && li.dataset.cid;
    const obj = cid && this.store.get(cid);
    if (!obj) return;
    if (action === "select" || action === "edit") {
      this.editor.select(this.editor.selection === cid && action === "select" ? null : cid);
      if (action === "edit") {
        this.editor.setTool("select");
        this.announce(`Editing the suggestion ${this.describe(cid)}: drag it or its handles, then accept it.`);
      }
    } else if (action === "hide") {
      this.store.setViewFlag("hidden", cid, !this.store.hidden.has(cid));
    } else if (action === "lock") {
      this.store.setViewFlag("locked", cid, !this.store.locked.has(cid));
    } else if (action === "accept") {
      this.editor.update(cid, { review_state: "" }, "Accept suggestion");
      this.announce(`Accepted ${this.describe(cid)}.`);
    } else if (action === "reject") {
      if (this.editor.selection === cid) this.editor.select(null);
      const desc = this.describe(cid);
      this.store.commit([[cid, null]], "Reject suggestion");
      this.announce(`Rejected ${desc}.`);
    }
  }

  _acceptAll() {
    const changes = [];
    for (const obj of this.store.objects.values()) {
      if (obj.review_state === "proposed") changes.push([obj.cid, { ...this.store.content(obj.cid), review_state: "" }]);
    }
    if (!changes.length) return;
    this.store.commit(changes, "Accept all suggestions");
    this.announce(`Accepted ${changes.length} suggestion${changes.length === 1 ? "" : "s"}.`);
  }

  // --- Selected object -------------------------------------------------------------------------

  showSelection() {
    const cid = this.editor.selection;
    const obj = cid && this.store.get(cid);
    rebuild(this.selectionEl, () => {
      if (!obj) {
        this.selectionEl.append(el("p", { className: "muted", text: "Nothing selected. Click an object on the image or in the object list." }));
        return;
      }
      const locked = this.store.isLocked(obj);
      const disabled = !this.canEdit || locked;
      const label = this.recipe.label(obj.label);
      const facts = [this.describe(cid)];
      if (obj.source === "model") facts.push(`suggested by a model${obj.confidence != null ? ` (${Math.round(obj.confidence * 100)}% confident)` : ""}`);
      if (obj.review_state === "proposed") facts.push("not accepted yet");
      if (locked) facts.push("locked");
      this.selectionEl.append(el("p", { className: "selection-title", text: facts.join(" · ") }));
      const errors = this.store.errors.get(cid) || {};
      const general = Object.entries(errors).filter(([path]) => !path.startsWith("attributes."));
      if (general.length) {
        this.selectionEl.append(el("div", { className: "form-errors", role: "alert" },
          el("p", { text: "Not saved:" }),
          el("ul", {}, ...general.map(([path, message]) => el("li", { text: `${path}: ${message}` })))));
      }
      const labelSelect = el("select", { id: "selection-label", disabled },
        ...this.recipe.labelsFor(obj.type).map((l) => el("option", { value: l.name, text: l.name, selected: l.name === obj.label })));
      labelSelect.addEventListener("change", () => {
        const next = this.recipe.label(labelSelect.value);
        if (next) this.editor._relabel(cid, next);
      });
      this.selectionEl.append(el("div", { className: "field" }, el("label", { for: "selection-label", text: "Label" }), labelSelect));
      for (const attribute of this.recipe.attributesFor(obj.label, obj.type)) {
        this.selectionEl.append(attributeField(attribute, (obj.attributes || {})[attribute.name], {
          prefix: "selection-attr", disabled, error: errors[`attributes.${attribute.name}`],
          onChange: (value) => this._setAttribute(cid, attribute.name, value),
        }));
      }
      if (obj.type === "keypoints" && label && label.skeleton) this._keypointFields(obj, label, disabled);
      const actions = el("div", { className: "button-row selection-actions" });
      if (this.canEdit) {
        if (obj.review_state === "proposed") {
          actions.append(button("Accept suggestion", { onclick: () => { this.editor.update(cid, { review_state: "" }, "Accept suggestion"); this.announce(`Accepted ${this.describe(cid)}.`); } }));
        }
        if (obj.type === "polygon" && !locked) actions.append(button("Add hole", { onclick: () => this.editor.setTool("hole") }));
        if (obj.type === "mask" && !locked) actions.append(button("Erase from mask", { onclick: () => this.editor.setTool("eraser") }));
        if (!locked) actions.append(button(obj.review_state === "proposed" ? "Reject suggestion" : "Delete", { className: "button button-small button-danger", onclick: () => this.editor.deleteSelected() }));
      }
      this.selectionEl.append(actions);
    });
  }

  _setAttribute(cid, name, value) {
    const content = this.store.content(cid);
    if (!content) return;
    const attributes = { ...content.attributes };
    if (value === null) delete attributes[name]; else attributes[name] = value;
    this.store.commit([[cid, { ...content, attributes }]], `Set ${name}`);
  }

  _keypointFields(obj, label, disabled) {
    const names = label.skeleton.points;
    const fieldset = el("fieldset", { className: "attr-field keypoint-fields" }, el("legend", { text: "Skeleton points" }));
    names.forEach((name, i) => {
      const id = `keypoint-${i}`;
      const current = obj.geometry.points[i] ? obj.geometry.points[i][2] : 0;
      const select = el("select", { id, disabled },
        ...[[2, "visible"], [1, "hidden (occluded)"], [0, "absent"]].map(([v, text]) => el("option", { value: String(v), text, selected: v === current })));
      select.addEventListener("change", () => this._setVisibility(obj.cid, i, Number(select.value)));
      fieldset.append(el("div", { className: "field field-inline" }, el("label", { for: id, text: name }), select));
    });
    this.selectionEl.append(fieldset);
  }

  _setVisibility(cid, index, v) {
    const content = this.store.content(cid);
    const points = content.geometry.points.map((p) => p.slice());
    if (v === 0) points[index] = [0, 0, 0];
    else if (points[index][2] === 0) {
      // An absent point becomes placed at the middle of the placed ones: then drag it where it belongs.
      const placed = points.filter((p) => p[2] > 0);
      const cx = placed.reduce((a, p) => a + p[0], 0) / placed.length, cy = placed.reduce((a, p) => a + p[1], 0) / placed.length;
      points[index] = [Math.round(cx * 100) / 100, Math.round(cy * 100) / 100, v];
    } else points[index][2] = v;
    if (!points.some((p) => p[2] > 0)) { this.announce("At least one point of a skeleton stays placed."); this.showSelection(); return; }
    this.store.commit([[cid, { ...content, geometry: { points } }]], "Change point visibility");
  }

  // --- Item classification ---------------------------------------------------------------------

  showClassification() {
    if (!this.classificationEl) return;
    const labels = this.recipe.labelsFor("classification");
    const chosen = new Map();
    for (const obj of this.store.objects.values()) if (obj.type === "classification") chosen.set(obj.label, obj);
    rebuild(this.classificationEl, () => {
      if (labels.length) {
        const fieldset = el("fieldset", { className: "attr-field" }, el("legend", { text: "Classes of this item" }));
        labels.forEach((label, i) => {
          const id = `class-${i}`;
          const box = el("input", { type: "checkbox", id, disabled: !this.canEdit, checked: chosen.has(label.name) });
          box.addEventListener("change", () => this._toggleClass(label, box.checked, chosen));
          fieldset.append(el("div", { className: "check" }, box, el("label", { for: id, text: label.name })));
        });
        this.classificationEl.append(fieldset);
      }
      for (const [name, obj] of chosen) {
        const own = (this.recipe.label(name) || {}).attributes || [];
        if (!own.length) continue;
        const errors = this.store.errors.get(obj.cid) || {};
        const fieldset = el("fieldset", { className: "attr-field" }, el("legend", { text: `${name}: attributes` }));
        for (const attribute of own) {
          fieldset.append(attributeField(attribute, obj.attributes[attribute.name], {
            prefix: `class-attr-${name}`, disabled: !this.canEdit, error: errors[`attributes.${attribute.name}`],
            onChange: (value) => this._setAttribute(obj.cid, attribute.name, value),
          }));
        }
        this.classificationEl.append(fieldset);
      }
      const itemAttributes = this.recipe.itemAttributes;
      if (itemAttributes.length) {
        const first = chosen.values().next().value;
        const fieldset = el("fieldset", { className: "attr-field" }, el("legend", { text: "Item attributes" }));
        if (!first) fieldset.append(el("p", { className: "helptext", text: "Choose a class above first: item attributes are kept with the item's classes." }));
        for (const attribute of itemAttributes) {
          fieldset.append(attributeField(attribute, first ? first.attributes[attribute.name] : undefined, {
            prefix: "item-attr", disabled: !this.canEdit || !first,
            onChange: (value) => this._setItemAttribute(attribute.name, value),
          }));
        }
        this.classificationEl.append(fieldset);
      }
      const problems = [...chosen.values()].map((obj) => this.store.errors.get(obj.cid)).filter(Boolean);
      if (problems.length) {
        this.classificationEl.append(el("div", { className: "form-errors", role: "alert" },
          el("p", { text: "Not saved:" }), el("ul", {}, ...problems.flatMap((e) => Object.entries(e).map(([p, m]) => el("li", { text: `${p}: ${m}` }))))));
      }
    });
  }

  _toggleClass(label, on, chosen) {
    if (on) {
      const shared = {};
      const first = chosen.values().next().value;
      for (const attribute of this.recipe.itemAttributes) {
        if (first && first.attributes[attribute.name] !== undefined) shared[attribute.name] = first.attributes[attribute.name];
      }
      const content = {
        type: "classification", label: label.name, attributes: { ...this.recipe.defaults(label.name, "classification"), ...shared },
        geometry: null, z_order: 0, frame: 0, source: "human", review_state: "", confidence: null,
        recipe_version: this.editor.recipeVersionId,
      };
      this.store.commit([[this.store.newCid(), content]], `Classify as ${label.name}`);
    } else {
      const obj = chosen.get(label.name);
      if (obj) this.store.commit([[obj.cid, null]], `Remove class ${label.name}`);
    }
  }

  _setItemAttribute(name, value) {
    const changes = [];
    for (const obj of this.store.objects.values()) {
      if (obj.type !== "classification") continue;
      const content = this.store.content(obj.cid);
      const attributes = { ...content.attributes };
      if (value === null) delete attributes[name]; else attributes[name] = value;
      changes.push([obj.cid, { ...content, attributes }]);
    }
    if (changes.length) this.store.commit(changes, `Set ${name}`);
  }
}
