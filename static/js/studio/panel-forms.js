// The side panels' forms, mixed into Panels.prototype by panels.js (`this` is the Panels): the selected object
// (label, attributes, skeleton point visibility, its actions) and the item-level classification (classes, their
// attributes, the item attributes). attributeField builds one form field per attribute of the recipe.

import { button, el, rebuild } from "./dom.js";
import { valueError } from "./recipe.js";

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

/** A copy of the attributes with one set to value (null: removed). */
function withAttribute(attributes, name, value) {
  const next = { ...attributes };
  if (value === null) delete next[name]; else next[name] = value;
  return next;
}

export const forms = {
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
          actions.append(button("Accept suggestion", { onclick: () => this.acceptSuggestion(cid) }));
        }
        if (obj.type === "polygon" && !locked) actions.append(button("Add hole", { onclick: () => this.editor.setTool("hole") }));
        if (obj.type === "mask" && !locked) actions.append(button("Erase from mask", { onclick: () => this.editor.setTool("eraser") }));
        if (!locked) actions.append(button(obj.review_state === "proposed" ? "Reject suggestion" : "Delete", { className: "button button-small button-danger", onclick: () => this.editor.deleteSelected() }));
      }
      this.selectionEl.append(actions);
    });
  },

  _setAttribute(cid, name, value) {
    const content = this.store.content(cid);
    if (!content) return;
    this.store.commit([[cid, { ...content, attributes: withAttribute(content.attributes, name, value) }]], `Set ${name}`);
  },

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
  },

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
  },

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
  },

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
  },

  _setItemAttribute(name, value) {
    const changes = [];
    for (const obj of this.store.objects.values()) {
      if (obj.type !== "classification") continue;
      const content = this.store.content(obj.cid);
      changes.push([obj.cid, { ...content, attributes: withAttribute(content.attributes, name, value) }]);
    }
    if (changes.length) this.store.commit(changes, `Set ${name}`);
  },
};
