// The studio's side panels, as plain DOM (text only, never HTML from data): the object list grouped by label
// with hide/lock per object and per label, and the model suggestions. Rows are updated one by one as objects
// change, never rebuilt for one change. The selected object's form and the item-level classification are in
// panel-forms.js (their methods are mixed into the Panels prototype, below).

import { button, el } from "./dom.js";
import { TYPE_NAMES } from "./geometry.js";
import { forms } from "./panel-forms.js";

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
      this.acceptSuggestion(cid);
    } else if (action === "reject") {
      if (this.editor.selection === cid) this.editor.select(null);
      const desc = this.describe(cid);
      this.store.commit([[cid, null]], "Reject suggestion");
      this.announce(`Rejected ${desc}.`);
    }
  }

  /** A model suggestion becomes an annotation of this layer (from its row or from the selected object's form). */
  acceptSuggestion(cid) {
    this.editor.update(cid, { review_state: "" }, "Accept suggestion");
    this.announce(`Accepted ${this.describe(cid)}.`);
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
}

Object.assign(Panels.prototype, forms);
