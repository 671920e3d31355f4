// Recipe editor: edits the draft (labels, attributes, skeletons, instructions, review settings) and saves the whole
// document with PATCH /api/v1/recipes/<id>/; publishes with a migration map built from the labels that disappear;
// previews and applies the label migration with live progress (websocket /ws/o/<slug>/recipes/, or asking
// GET /api/v1/label-migrations/<id>/ every second). The server validates everything: its errors come back keyed by
// dotted path ("labels.2.hotkey", "migration.0.to") and are shown next to the input that path names.
// Names and messages only ever go through textContent; the instructions' HTML is cleaned here and on the server.
(function () {
  "use strict";

  var stateEl = document.getElementById("recipe-state");
  if (!stateEl || !window.fetch || !("content" in document.createElement("template"))) { return; }
  var state;
  try { state = JSON.parse(stateEl.textContent); } catch (e) { return; }

  var TOOLS = state.tools;
  var TYPES = state.attributeTypes;
  var PALETTE = state.palette;
  var TOOL_NAMES = {
    classification: "Classification", point: "Point", keypoints: "Keypoints", bbox: "Box", rotated_bbox: "Rotated box",
    ellipse: "Ellipse", polyline: "Polyline", polygon: "Polygon", mask: "Mask"
  };
  var TYPE_NAMES = { "enum": "One of", multi_enum: "Several of", text: "Text", number: "Number", "boolean": "Yes / no" };
  var DEFAULT_TOOLS = TOOLS.filter(function (t) { return t !== "classification" && t !== "keypoints"; });
  var POLL_MS = 1000;
  var CLOSE_UNAUTHORISED = 4403;

  var editor = document.getElementById("recipe-editor");
  var summary = document.getElementById("recipe-summary");
  var labelsTable = document.getElementById("labels-table");
  var noLabels = document.getElementById("no-labels");
  var itemAttributesBox = document.getElementById("item-attributes");
  var nameInput = document.getElementById("recipe-name");
  var descriptionInput = document.getElementById("recipe-description");
  var instructionsArea = document.getElementById("instructions-editor");
  var reviewRequired = document.getElementById("review-required");
  var reviewRatio = document.getElementById("review-ratio");
  var reviewReasons = document.getElementById("review-reasons");
  var saveButton = document.getElementById("save-draft");
  var saveStatus = document.getElementById("save-status");
  var saveErrors = document.getElementById("save-errors");
  var jsonForm = document.getElementById("json-form");
  var jsonDetails = document.getElementById("advanced-json");
  var publishForm = document.getElementById("publish-form");
  var publishErrors = document.getElementById("publish-errors");
  var publishStatus = document.getElementById("publish-status");
  var publishButton = document.getElementById("publish-button");
  var labelDiff = document.getElementById("label-diff");
  var builder = document.getElementById("migration-builder");
  var migrationPanel = document.getElementById("migration-panel");
  var migrationPreview = document.getElementById("migration-preview");
  var migrationApply = document.getElementById("migration-apply");
  var migrationErrors = document.getElementById("migration-errors");
  var migrationProgress = document.getElementById("migration-progress");
  var migrationBar = document.getElementById("migration-bar");
  var migrationStatus = document.getElementById("migration-status");

  var csrfToken = window.dlsaas.csrfToken;
  var uidCounter = 0;
  function uid() { uidCounter += 1; return "u" + uidCounter; }

  // --- Small DOM helpers (text only, never HTML) --------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) { return; }
      if (key === "text") { node.textContent = String(value); }
      else if (key === "className") { node.className = value; }
      else if (key === "value") { node.value = value; }
      else if (key === "checked") { node.checked = !!value; }
      else if (value === true) { node.setAttribute(key, ""); }
      else { node.setAttribute(key, String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function option(value, text, selected) {
    var node = el("option", { value: value, text: text });
    node.selected = !!selected;
    return node;
  }

  function button(text, attrs, onClick) {
    var node = el("button", Object.assign({ type: "button", className: "button button-small button-secondary", text: text }, attrs || {}));
    node.addEventListener("click", onClick);
    return node;
  }

  function quoted(name) { return name ? "\u201c" + name + "\u201d" : "(unnamed)"; }

  function parseJson(text) { try { return JSON.parse(text); } catch (e) { return null; } }

  function splitList(text, separator) {
    return String(text || "").split(separator).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // --- The model: the draft as the editor holds it ------------------------------------------------

  var model;

  function attributeModel(raw) {
    raw = raw || {};
    return {
      uid: uid(), name: raw.name || "", type: TYPES.indexOf(raw.type) >= 0 ? raw.type : "enum", required: !!raw.required,
      options: Array.isArray(raw.options) ? raw.options.join(", ") : "",
      min: raw.min === null || raw.min === undefined ? "" : String(raw.min),
      max: raw.max === null || raw.max === undefined ? "" : String(raw.max),
      "default": raw["default"] === null || raw["default"] === undefined ? ""
        : Array.isArray(raw["default"]) ? raw["default"].join(", ") : String(raw["default"]),
      description: raw.description || ""
    };
  }

  function labelModel(raw, index) {
    raw = raw || {};
    var skeleton = raw.skeleton && Array.isArray(raw.skeleton.points) ? {
      points: raw.skeleton.points.map(String),
      edges: (raw.skeleton.edges || []).map(function (e) { return [Number(e[0]), Number(e[1])]; })
    } : null;
    return {
      uid: uid(), name: raw.name || "", committedName: raw.name || "",
      color: raw.color || PALETTE[index % PALETTE.length], hotkey: raw.hotkey || "", parent: raw.parent || "",
      tools: Array.isArray(raw.tools) ? raw.tools.slice() : DEFAULT_TOOLS.slice(),
      attributes: (raw.attributes || []).map(attributeModel), skeleton: skeleton, description: raw.description || ""
    };
  }

  function modelFrom(recipe) {
    var spec = recipe.draft || {};
    var review = spec.review || {};
    return {
      name: recipe.name || "", description: recipe.description || "",
      labels: (spec.labels || []).map(labelModel),
      attributes: (spec.attributes || []).map(attributeModel),
      instructions: spec.instructions || "",
      review: {
        required: !!review.required, ratio: review.sample_ratio === undefined ? "0" : String(review.sample_ratio),
        reasons: (review.reject_reasons || []).join("\n")
      }
    };
  }

  function numberOrText(text) {
    var n = Number(text);
    return text.trim() !== "" && isFinite(n) ? n : text;
  }

  function attributeSpec(a) {
    var out = { name: a.name.trim(), type: a.type, required: a.required };
    if (a.type === "enum" || a.type === "multi_enum") { out.options = splitList(a.options, ","); }
    if (a.type === "number") {
      if (a.min.trim() !== "") { out.min = numberOrText(a.min); }
      if (a.max.trim() !== "") { out.max = numberOrText(a.max); }
    }
    var d = a["default"].trim();
    if (d !== "") {
      if (a.type === "boolean") { out["default"] = d === "true" ? true : d === "false" ? false : d; }
      else if (a.type === "number") { out["default"] = numberOrText(d); }
      else if (a.type === "multi_enum") { out["default"] = splitList(d, ","); }
      else { out["default"] = a["default"]; }
    }
    if (a.description) { out.description = a.description; }
    return out;
  }

  function specOf(m) {
    var ratio = m.review.ratio.trim() === "" ? 0 : numberOrText(m.review.ratio);
    return {
      labels: m.labels.map(function (lab) {
        var out = {
          name: lab.name.trim(), color: lab.color, hotkey: lab.hotkey.trim() || null, parent: lab.parent || null,
          tools: TOOLS.filter(function (t) { return lab.tools.indexOf(t) >= 0; }),
          attributes: lab.attributes.map(attributeSpec)
        };
        if (lab.skeleton && (lab.skeleton.points.length || lab.skeleton.edges.length)) {
          out.skeleton = { points: lab.skeleton.points.map(function (p) { return p.trim(); }), edges: lab.skeleton.edges };
        }
        if (lab.description) { out.description = lab.description; }
        return out;
      }),
      attributes: m.attributes.map(attributeSpec),
      instructions: m.instructions,
      review: { required: m.review.required, sample_ratio: ratio, reject_reasons: splitList(m.review.reasons, "\n") }
    };
  }

  function payload() {
    return { name: model.name, description: model.description, spec: specOf(model) };
  }

  // --- Instructions: a small rich-text editor; what it holds is cleaned like the server cleans it ----

  var ALLOWED_TAGS = {
    P: 1, BR: 1, STRONG: 1, EM: 1, B: 1, I: 1, U: 1, S: 1, UL: 1, OL: 1, LI: 1, H2: 1, H3: 1, H4: 1, BLOCKQUOTE: 1,
    CODE: 1, PRE: 1, A: 1, IMG: 1, TABLE: 1, THEAD: 1, TBODY: 1, TR: 1, TH: 1, TD: 1, HR: 1
  };
  var ALLOWED_ATTRIBUTES = { A: ["href", "title"], IMG: ["src", "alt", "title", "width", "height"] };
  var SAFE_URL = /^(https?:|mailto:|\/(?!\/))/i;

  function cleanInto(target, source) {
    Array.prototype.forEach.call(source.childNodes, function (node) {
      if (node.nodeType === 3) { target.appendChild(document.createTextNode(node.nodeValue)); return; }
      if (node.nodeType !== 1) { return; }
      if (!ALLOWED_TAGS[node.tagName]) {
        if (node.tagName !== "SCRIPT" && node.tagName !== "STYLE") { cleanInto(target, node); }
        return;
      }
      var copy = document.createElement(node.tagName.toLowerCase());
      (ALLOWED_ATTRIBUTES[node.tagName] || []).forEach(function (name) {
        var value = node.getAttribute(name);
        if (value === null) { return; }
        if ((name === "href" || name === "src") && !SAFE_URL.test(value.trim())) { return; }
        copy.setAttribute(name, value);
      });
      cleanInto(copy, node);
      target.appendChild(copy);
    });
  }

  function setInstructions(html) {
    var template = document.createElement("template");
    template.innerHTML = String(html || ""); // parsed inert in a template: nothing loads or runs
    instructionsArea.textContent = "";
    cleanInto(instructionsArea, template.content);
  }

  var savedRange = null;
  instructionsArea.addEventListener("blur", function () {
    var selection = window.getSelection();
    if (selection.rangeCount && instructionsArea.contains(selection.anchorNode)) { savedRange = selection.getRangeAt(0); }
  });
  instructionsArea.addEventListener("input", function () { model.instructions = instructionsArea.innerHTML; changed(); });

  function restoreSelection() {
    instructionsArea.focus();
    if (savedRange) {
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(savedRange);
    }
  }

  document.querySelectorAll(".rte-toolbar [data-command]").forEach(function (control) {
    control.addEventListener("mousedown", function (event) { event.preventDefault(); }); // keep the selection
    control.addEventListener("click", function () {
      var command = control.dataset.command;
      var value = control.dataset.value || null;
      if (command === "createLink" || command === "insertImage") {
        value = window.prompt(command === "createLink" ? "Link address (https://…)" : "Image address (https://…)", "https://");
        if (!value || !SAFE_URL.test(value.trim())) { restoreSelection(); return; }
        value = value.trim();
      }
      restoreSelection();
      document.execCommand(command, false, value);
      model.instructions = instructionsArea.innerHTML;
      changed();
    });
  });

  // --- Rendering ----------------------------------------------------------------------------------

  function focusKeyOfActive() {
    var active = document.activeElement;
    return active && editor.contains(active) ? active.getAttribute("data-key") : null;
  }

  function focusKey(key) {
    if (!key) { return; }
    var target = editor.querySelector("[data-key='" + key + "']");
    if (target) { target.focus(); }
  }

  function render(focusAfter) {
    var key = focusAfter || focusKeyOfActive();
    clearFieldErrors(editor);
    Array.prototype.slice.call(labelsTable.tBodies).forEach(function (body) { body.remove(); });
    parentNames = JSON.stringify(labelNames(null));
    model.labels.forEach(function (label, index) { labelsTable.appendChild(labelBlock(label, index)); });
    noLabels.hidden = model.labels.length > 0;
    itemAttributesBox.textContent = "";
    itemAttributesBox.appendChild(attributesEditor(model.attributes, "attributes", "item attribute", "item", "Add item attribute"));
    focusKey(key);
    refreshDiff();
  }

  function fillStatic() {
    nameInput.value = model.name;
    descriptionInput.value = model.description;
    setInstructions(model.instructions);
    reviewRequired.checked = model.review.required;
    reviewRatio.value = model.review.ratio;
    reviewReasons.value = model.review.reasons;
  }

  function labelNames(except) {
    return model.labels.filter(function (l) { return l !== except && l.name.trim(); }).map(function (l) { return l.name.trim(); });
  }

  function parentSelect(label, n) {
    var select = el("select", { "aria-label": "Parent of label " + n, "data-key": label.uid + ".parent", "data-parent-of": label.uid });
    fillParentOptions(select, label);
    select.addEventListener("change", function () { label.parent = select.value; changed(); });
    return select;
  }

  function fillParentOptions(select, label) {
    select.textContent = "";
    select.appendChild(option("", "None", !label.parent));
    var names = labelNames(label);
    if (label.parent && names.indexOf(label.parent) < 0) { names.push(label.parent); }
    names.forEach(function (name) { select.appendChild(option(name, name, name === label.parent)); });
  }

  var parentNames = null;
  function refreshParents() {
    var names = JSON.stringify(labelNames(null));
    if (names === parentNames) { return; }
    parentNames = names;
    model.labels.forEach(function (label) {
      var select = labelsTable.querySelector("select[data-parent-of='" + label.uid + "']");
      if (select) { fillParentOptions(select, label); }
    });
  }

  function labelBlock(label, index) {
    var n = index + 1;
    var path = "labels." + index;
    var body = el("tbody", { className: "label-block", "data-label": label.uid });

    var name = el("input", { type: "text", value: label.name, maxlength: 200, "aria-label": "Name of label " + n,
      "data-path": path + ".name", "data-key": label.uid + ".name", autocomplete: "off" });
    name.addEventListener("input", function () { label.name = name.value; changed(); refreshDiff(); });
    name.addEventListener("change", function () {
      var before = label.committedName;
      var after = name.value.trim();
      if (before && after && before !== after) {
        model.labels.forEach(function (other) { if (other.parent === before) { other.parent = after; } });
      }
      label.committedName = after;
      refreshParents();
    });

    var color = el("input", { type: "color", value: label.color, "aria-label": "Colour of label " + n,
      "data-path": path + ".color", "data-key": label.uid + ".color" });
    color.addEventListener("input", function () { label.color = color.value; changed(); });

    var hotkey = el("input", { type: "text", value: label.hotkey, maxlength: 1, size: 2, className: "hotkey-input",
      "aria-label": "Hotkey of label " + n, "data-path": path + ".hotkey", "data-key": label.uid + ".hotkey",
      autocomplete: "off" });
    hotkey.addEventListener("input", function () {
      if (hotkey.value !== hotkey.value.toLowerCase()) { hotkey.value = hotkey.value.toLowerCase(); }
      label.hotkey = hotkey.value;
      changed();
    });

    var tools = el("fieldset", { className: "tool-checks", "data-path": path + ".tools" },
      [el("legend", { className: "visually-hidden", text: "Tools of label " + n })]);
    TOOLS.forEach(function (tool) {
      var id = label.uid + "-tool-" + tool;
      var box = el("input", { type: "checkbox", id: id, value: tool, checked: label.tools.indexOf(tool) >= 0,
        "data-key": label.uid + ".tool." + tool });
      box.addEventListener("change", function () {
        label.tools = TOOLS.filter(function (t) {
          return t === tool ? box.checked : label.tools.indexOf(t) >= 0;
        });
        if (tool === "keypoints") { toggleSkeleton(box.checked); }
        changed();
      });
      tools.appendChild(el("span", { className: "tool-check" }, [box, el("label", { "for": id, text: TOOL_NAMES[tool] || tool })]));
    });

    var actions = el("td", { className: "label-actions" }, [
      button("\u2191", { "aria-label": "Move label " + n + " up", disabled: index === 0, "data-key": label.uid + ".up" },
        function () { move(index, -1, label.uid + ".up"); }),
      button("\u2193", { "aria-label": "Move label " + n + " down", disabled: index === model.labels.length - 1,
        "data-key": label.uid + ".down" }, function () { move(index, 1, label.uid + ".down"); }),
      button("Remove", { className: "button button-small button-danger", "aria-label": "Remove label " + n + " " + quoted(label.name) },
        function () {
          model.labels.splice(index, 1);
          model.labels.forEach(function (other) { if (other.parent === label.name.trim()) { other.parent = ""; } });
          changed();
          var next = model.labels[index] || model.labels[index - 1];
          render(next ? next.uid + ".name" : null);
          if (!next) { document.getElementById("add-label").focus(); }
        })
    ]);

    body.appendChild(el("tr", { className: "label-row" }, [
      el("td", { className: "label-number", text: n }),
      el("td", {}, [name]),
      el("td", {}, [color]),
      el("td", {}, [hotkey]),
      el("td", {}, [parentSelect(label, n)]),
      el("td", {}, [tools]),
      actions
    ]));

    // The skeleton editor comes and goes with the keypoints tool (in place: the checkbox keeps its focus).
    function toggleSkeleton(on) {
      var present = details.querySelector(".skeleton-editor");
      var empty = !label.skeleton || (!label.skeleton.points.length && !label.skeleton.edges.length);
      if (on && !present) {
        details.appendChild(skeletonEditor(label, index));
      } else if (!on && present && empty) {
        label.skeleton = null;
        present.remove();
      }
    }

    var details = el("td", { colspan: 7, className: "label-details" }, [
      attributesEditor(label.attributes, path + ".attributes", "attribute", "label " + n, "Add attribute to label " + n, label.uid)
    ]);
    if (label.skeleton || label.tools.indexOf("keypoints") >= 0) {
      details.appendChild(skeletonEditor(label, index));
    }
    body.appendChild(el("tr", { className: "label-details-row" }, [details]));
    return body;
  }

  function move(index, delta, key) {
    var target = index + delta;
    if (target < 0 || target >= model.labels.length) { return; }
    var moved = model.labels.splice(index, 1)[0];
    model.labels.splice(target, 0, moved);
    changed();
    render(key);
  }

  // An attribute table: for a label's attributes ("of label 2") or the item's ("item").
  function attributesEditor(list, path, noun, owner, addText, ownerKey) {
    var keyBase = (ownerKey || "item") + ".attr";
    var wrap = el("div", { className: "attributes-editor" });
    if (list.length) {
      var table = el("table", { className: "attributes-table", "data-path": path }, [
        el("caption", { className: "visually-hidden", text: "Attributes of " + owner }),
        el("thead", {}, [el("tr", {}, ["Attribute", "Type", "Options (comma-separated)", "Min", "Max", "Required", "Default", ""]
          .map(function (h) { return el("th", { scope: "col", text: h }); }))])
      ]);
      var body = el("tbody");
      list.forEach(function (attribute, j) {
        body.appendChild(attributeRow(list, attribute, j, path + "." + j, noun + " " + (j + 1) + (owner === "item" ? "" : " of " + owner), keyBase));
      });
      table.appendChild(body);
      wrap.appendChild(el("div", { className: "table-wrap attributes-wrap" }, [table]));
    } else {
      wrap.setAttribute("data-path", path);
      wrap.appendChild(el("p", { className: "muted attributes-none", text: owner === "item" ? "No item attributes." : "No attributes." }));
    }
    wrap.appendChild(button(addText, { "data-key": keyBase + ".add" }, function () {
      var attribute = attributeModel({ type: "enum" });
      list.push(attribute);
      changed();
      render(attribute.uid + ".name");
    }));
    return wrap;
  }

  function attributeRow(list, attribute, j, path, what, keyBase) {
    var k = attribute.uid;
    function textInput(field, label, attrs) {
      var input = el("input", Object.assign({ type: "text", value: attribute[field], "aria-label": label + " of " + what,
        "data-path": path + "." + field, "data-key": k + "." + field, autocomplete: "off" }, attrs || {}));
      input.addEventListener("input", function () { attribute[field] = input.value; changed(); });
      return input;
    }
    var type = el("select", { "aria-label": "Type of " + what, "data-path": path + ".type", "data-key": k + ".type" });
    TYPES.forEach(function (t) { type.appendChild(option(t, TYPE_NAMES[t] || t, t === attribute.type)); });
    type.addEventListener("change", function () { attribute.type = type.value; changed(); render(k + ".type"); });

    var enumLike = attribute.type === "enum" || attribute.type === "multi_enum";
    var isNumber = attribute.type === "number";
    var required = el("input", { type: "checkbox", checked: attribute.required, "aria-label": "Required: " + what,
      "data-path": path + ".required", "data-key": k + ".required" });
    required.addEventListener("change", function () { attribute.required = required.checked; changed(); });

    var defaultControl;
    if (attribute.type === "boolean") {
      defaultControl = el("select", { "aria-label": "Default of " + what, "data-path": path + ".default", "data-key": k + ".default" }, [
        option("", "None", attribute["default"] === ""), option("true", "Yes", attribute["default"] === "true"),
        option("false", "No", attribute["default"] === "false")
      ]);
      defaultControl.addEventListener("change", function () { attribute["default"] = defaultControl.value; changed(); });
    } else {
      defaultControl = textInput("default", "Default", { size: 8 });
    }
    return el("tr", { "data-path": path }, [
      el("td", {}, [textInput("name", "Name", { maxlength: 200 })]),
      el("td", {}, [type]),
      el("td", {}, [enumLike ? textInput("options", "Options", { placeholder: "red, green, blue" }) : el("span", { className: "muted", text: "\u2014" })]),
      el("td", {}, [isNumber ? textInput("min", "Minimum", { inputmode: "decimal", size: 5 }) : el("span", { className: "muted", text: "\u2014" })]),
      el("td", {}, [isNumber ? textInput("max", "Maximum", { inputmode: "decimal", size: 5 }) : el("span", { className: "muted", text: "\u2014" })]),
      el("td", {}, [required]),
      el("td", {}, [defaultControl]),
      el("td", {}, [button("Remove", { className: "button button-small button-danger", "aria-label": "Remove " + what }, function () {
        list.splice(j, 1);
        changed();
        render(list[j] ? list[j].uid + ".name" : keyBase + ".add");
      })])
    ]);
  }

  function skeletonEditor(label, index) {
    var path = "labels." + index + ".skeleton";
    var n = index + 1;
    var skeleton = label.skeleton || (label.skeleton = { points: [], edges: [] });
    var box = el("fieldset", { className: "skeleton-editor", "data-path": path },
      [el("legend", { text: "Keypoint skeleton of label " + n })]);

    var points = el("ol", { className: "skeleton-points", "data-path": path + ".points" });
    skeleton.points.forEach(function (point, p) {
      var input = el("input", { type: "text", value: point, "aria-label": "Point " + (p + 1) + " of label " + n,
        "data-path": path + ".points." + p, "data-key": label.uid + ".point." + p, autocomplete: "off", maxlength: 200 });
      input.addEventListener("input", function () {
        skeleton.points[p] = input.value;
        box.querySelectorAll("select[data-key^='" + label.uid + ".edge.']").forEach(function (select) {
          select.options[p].textContent = (p + 1) + ". " + (input.value.trim() || "(unnamed)");
        });
        changed();
      });
      points.appendChild(el("li", {}, [input, button("Remove", { "aria-label": "Remove point " + (p + 1) + " of label " + n }, function () {
        skeleton.points.splice(p, 1);
        skeleton.edges = skeleton.edges.filter(function (e) { return e[0] !== p && e[1] !== p; })
          .map(function (e) { return e.map(function (v) { return v > p ? v - 1 : v; }); });
        changed();
        render(label.uid + ".addpoint");
      })]));
    });
    box.appendChild(el("p", { className: "skeleton-heading", text: "Points" }));
    box.appendChild(skeleton.points.length ? points : el("p", { className: "muted", "data-path": path + ".points", text: "No points yet." }));
    box.appendChild(button("Add point", { "data-key": label.uid + ".addpoint", "aria-label": "Add point to label " + n }, function () {
      skeleton.points.push("");
      changed();
      render(label.uid + ".point." + (skeleton.points.length - 1));
    }));

    var edges = el("ul", { className: "skeleton-edges", "data-path": path + ".edges" });
    skeleton.edges.forEach(function (edge, e) {
      function end(which, text) {
        var select = el("select", { "aria-label": text + " of edge " + (e + 1) + " of label " + n, "data-key": label.uid + ".edge." + e + "." + which });
        skeleton.points.forEach(function (point, p) {
          select.appendChild(option(String(p), (p + 1) + ". " + (point.trim() || "(unnamed)"), edge[which] === p));
        });
        select.addEventListener("change", function () { edge[which] = Number(select.value); changed(); });
        return select;
      }
      edges.appendChild(el("li", { "data-path": path + ".edges." + e }, [end(0, "From"), " \u2014 ", end(1, "To"),
        button("Remove", { "aria-label": "Remove edge " + (e + 1) + " of label " + n }, function () {
          skeleton.edges.splice(e, 1);
          changed();
          render(label.uid + ".addedge");
        })]));
    });
    box.appendChild(el("p", { className: "skeleton-heading", text: "Edges" }));
    box.appendChild(skeleton.edges.length ? edges : el("p", { className: "muted", "data-path": path + ".edges", text: "No edges yet." }));
    box.appendChild(button("Add edge", { "data-key": label.uid + ".addedge", disabled: skeleton.points.length < 2,
      "aria-label": "Add edge to label " + n }, function () {
      skeleton.edges.push([0, 1]);
      changed();
      render(label.uid + ".edge." + (skeleton.edges.length - 1) + ".0");
    }));
    return box;
  }

  document.getElementById("add-label").addEventListener("click", function () {
    var label = labelModel({}, model.labels.length);
    model.labels.push(label);
    changed();
    render(label.uid + ".name");
  });

  nameInput.addEventListener("input", function () { model.name = nameInput.value; changed(); });
  descriptionInput.addEventListener("input", function () { model.description = descriptionInput.value; changed(); });
  reviewRequired.addEventListener("change", function () { model.review.required = reviewRequired.checked; changed(); });
  reviewRatio.addEventListener("input", function () { model.review.ratio = reviewRatio.value; changed(); });
  reviewReasons.addEventListener("input", function () { model.review.reasons = reviewReasons.value; changed(); });

  // --- Errors by dotted path ----------------------------------------------------------------------

  function cssString(text) { return String(text).replace(/["\\]/g, "\\$&"); }

  // The element a path names, or the nearest one above it ("labels.0.attributes.1.options.2" -> the options box).
  function fieldFor(root, path) {
    var parts = String(path).split(".");
    while (parts.length) {
      var found = root.querySelector("[data-path=\"" + cssString(parts.join(".")) + "\"]");
      if (found) { return found; }
      parts.pop();
    }
    return null;
  }

  function clearFieldErrors(root) {
    root.querySelectorAll(".path-error").forEach(function (node) { node.remove(); });
    root.querySelectorAll("[aria-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
      var described = (node.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id.indexOf("err-") !== 0; });
      if (described.length) { node.setAttribute("aria-describedby", described.join(" ")); } else { node.removeAttribute("aria-describedby"); }
    });
    root.querySelectorAll(".has-error").forEach(function (node) { node.classList.remove("has-error"); });
  }

  var errorCounter = 0;
  function markField(field, text) {
    errorCounter += 1;
    var id = "err-" + errorCounter;
    var message = el("p", { className: "field-error-text path-error", id: id, text: text });
    var control = /^(INPUT|SELECT|TEXTAREA)$/.test(field.tagName) || field.isContentEditable;
    if (control) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + id).trim());
      field.classList.add("has-error");
      field.parentNode.insertBefore(message, field.nextSibling);
    } else if (field.tagName === "TABLE") {
      field.classList.add("has-error");
      var wrap = field.closest(".table-wrap") || field;
      wrap.parentNode.insertBefore(message, wrap.nextSibling);
    } else if (field.tagName === "TR") {
      field.classList.add("has-error");
      var cell = field.cells[0];
      cell.appendChild(message);
    } else {
      field.classList.add("has-error");
      field.appendChild(message);
    }
    return field;
  }

  // "labels.2.attributes.0.options" -> "Label 3 “car”, attribute 1 “colour”, options"
  function describePath(path) {
    var parts = String(path).split(".");
    var words = [];
    var label = null;
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      var next = parts[i + 1];
      if (part === "labels" && /^\d+$/.test(next || "")) {
        label = model.labels[Number(next)];
        words.push("Label " + (Number(next) + 1) + (label ? " " + quoted(label.name.trim()) : ""));
        i += 1;
      } else if (part === "attributes" && /^\d+$/.test(next || "")) {
        var list = label ? label.attributes : model.attributes;
        var attribute = list[Number(next)];
        words.push((label ? "attribute " : "Item attribute ") + (Number(next) + 1) + (attribute ? " " + quoted(attribute.name.trim()) : ""));
        i += 1;
      } else {
        words.push(part.replace(/_/g, " "));
      }
    }
    return words.join(", ");
  }

  function errorMessages(status, data) {
    var out = [];
    if (data && data.errors && typeof data.errors === "object") {
      Object.keys(data.errors).forEach(function (path) {
        var list = Array.isArray(data.errors[path]) ? data.errors[path] : [data.errors[path]];
        list.forEach(function (message) { out.push({ path: path, message: String(message) }); });
      });
    }
    if (!out.length) {
      out.push({ path: null, message: data && data.detail ? String(data.detail)
        : status === 0 ? "The server could not be reached; your changes are still here."
          : "The server answered with status " + status + "." });
    }
    return out;
  }

  // Shows each error next to its field and lists them all in `box`, each linked to its field.
  function showErrors(root, box, intro, errors, describe) {
    clearFieldErrors(root);
    box.textContent = "";
    box.appendChild(el("p", { text: intro }));
    var list = el("ul");
    var first = null;
    errors.forEach(function (error) {
      var field = error.path ? fieldFor(root, error.path) : null;
      if (field) { markField(field, error.message); }
      var text = (error.path ? describe(error.path) + ": " : "") + error.message;
      var item = el("li");
      if (field) {
        var link = el("a", { href: "#", text: text });
        link.addEventListener("click", function (event) {
          event.preventDefault();
          focusField(field);
        });
        item.appendChild(link);
        first = first || field;
      } else {
        item.textContent = text;
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    box.hidden = false;
    box.focus();
  }

  function focusField(field) {
    var target = /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(field.tagName) || field.isContentEditable ? field
      : field.querySelector("input, select, textarea, button, [contenteditable]");
    if (target) { target.focus(); } else { field.scrollIntoView({ block: "center" }); }
  }

  // --- Saving -------------------------------------------------------------------------------------

  var savedJson = null;
  var saving = null;

  function isDirty() { return JSON.stringify(payload()) !== savedJson; }

  function changed() {
    saveStatus.textContent = isDirty() ? "Unsaved changes." : "All changes saved.";
  }

  window.addEventListener("beforeunload", function (event) {
    if (isDirty()) { event.preventDefault(); event.returnValue = ""; }
  });

  function api(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        return { ok: response.ok, status: response.status, data: parseJson(text) };
      });
    }, function () { return { ok: false, status: 0, data: null }; });
  }

  function loadRecipe(recipe) {
    state.recipe.draft = recipe.draft;
    model = modelFrom(recipe);
    savedJson = JSON.stringify(payload());
    fillStatic();
    render();
    document.getElementById("recipe-title").textContent = recipe.name;
    var crumb = document.querySelector(".breadcrumbs [aria-current='page']");
    if (crumb) { crumb.textContent = recipe.name; }
  }

  // Saves the editor's draft; resolves true when it is saved (or nothing changed).
  function save() {
    if (saving) { return saving; }
    if (!isDirty()) {
      saveStatus.textContent = "All changes saved.";
      return Promise.resolve(true);
    }
    saveButton.disabled = true;
    saveStatus.textContent = "Saving\u2026";
    saving = api("PATCH", state.urls.recipe, payload()).then(function (result) {
      saving = null;
      saveButton.disabled = false;
      if (result.ok && result.data) {
        saveErrors.hidden = true;
        loadRecipe(result.data);
        saveStatus.textContent = "Saved at " + new Date().toLocaleTimeString() + ".";
        return true;
      }
      saveStatus.textContent = "Not saved.";
      showErrors(editor, saveErrors, "The draft was not saved. Correct what is marked:", errorMessages(result.status, result.data), describePath);
      return false;
    });
    return saving;
  }

  saveButton.addEventListener("click", function () { save(); });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    }
  });

  // --- Advanced: the draft as JSON ----------------------------------------------------------------

  var jsonName = document.getElementById("json_name");
  var jsonDescription = document.getElementById("json_description");
  var jsonSpec = document.getElementById("json_spec");
  var jsonRefresh = document.getElementById("json-refresh");
  var jsonErrors = el("div", { className: "form-errors", role: "alert", tabindex: "-1", hidden: true, id: "json-errors" });
  jsonForm.insertBefore(jsonErrors, jsonForm.firstChild);

  function fillJson() {
    jsonName.value = model.name;
    jsonDescription.value = model.description;
    jsonSpec.value = JSON.stringify(specOf(model), null, 2);
  }

  jsonRefresh.hidden = false;
  jsonRefresh.addEventListener("click", fillJson);
  jsonDetails.addEventListener("toggle", function () { if (jsonDetails.open) { fillJson(); } });

  jsonForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var spec;
    try { spec = JSON.parse(jsonSpec.value); } catch (e) {
      showErrors(jsonForm, jsonErrors, "The draft was not saved:", [{ path: "spec", message: "This is not JSON: " + e.message }], String);
      return;
    }
    api("PATCH", state.urls.recipe, { name: jsonName.value, description: jsonDescription.value, spec: spec }).then(function (result) {
      if (result.ok && result.data) {
        jsonErrors.hidden = true;
        clearFieldErrors(jsonForm);
        loadRecipe(result.data);
        fillJson();
        saveStatus.textContent = "Saved from JSON at " + new Date().toLocaleTimeString() + ".";
        jsonErrors.hidden = false;
        jsonErrors.className = "message message-success";
        jsonErrors.textContent = "Saved. The editor above shows the new draft.";
        return;
      }
      jsonErrors.className = "form-errors";
      // Paths name places in the document; the form has one box for all of it.
      var errors = errorMessages(result.status, result.data).map(function (e) {
        return { path: e.path === "name" || e.path === "description" ? e.path : e.path ? "spec" : null,
          message: e.path && e.path !== "name" && e.path !== "description" ? e.path + ": " + e.message : e.message };
      });
      showErrors(jsonForm, jsonErrors, "The draft was not saved:", errors, function () { return ""; });
    });
  });
  jsonName.setAttribute("data-path", "name");
  jsonDescription.setAttribute("data-path", "description");
  jsonSpec.setAttribute("data-path", "spec");

  // --- Publishing: the label diff and the migration map ------------------------------------------

  var choices = {}; // label that disappears -> {op, to, attribute, cases, default}

  function previousLabels() {
    return state.previous ? state.previous.spec.labels || [] : [];
  }

  function currentLabels() {
    return model.labels.map(function (l) { return l.name.trim(); }).filter(Boolean);
  }

  // For a label that disappears, the added label that most looks like it (same hotkey, colour, place).
  function renameCandidates(removed, added) {
    var current = {};
    model.labels.forEach(function (l, i) { current[l.name.trim()] = { label: l, index: i }; });
    var old = {};
    previousLabels().forEach(function (l, i) { old[l.name] = { label: l, index: i }; });
    var taken = {};
    var out = {};
    removed.forEach(function (name) {
      var best = null;
      var bestScore = 0;
      added.forEach(function (candidate) {
        if (taken[candidate]) { return; }
        var a = old[name];
        var b = current[candidate];
        var score = (a.label.hotkey && a.label.hotkey === b.label.hotkey.trim() ? 3 : 0)
          + (a.label.color === b.label.color ? 2 : 0) + (a.index === b.index ? 1 : 0);
        if (score > bestScore) { best = candidate; bestScore = score; }
      });
      if (best) { out[name] = best; taken[best] = true; }
    });
    return out;
  }

  function refreshDiff() {
    if (!labelDiff || !state.previous) { return; }
    var before = previousLabels().map(function (l) { return l.name; });
    var after = currentLabels();
    var removed = before.filter(function (n) { return after.indexOf(n) < 0; });
    var added = after.filter(function (n) { return before.indexOf(n) < 0; });
    var candidates = renameCandidates(removed, added);
    labelDiff.textContent = "";
    labelDiff.hidden = false;
    labelDiff.appendChild(el("p", { className: "diff-intro", text: "Labels compared with version " + state.previous.number + ":" }));
    var list = el("ul", { className: "diff-list" });
    if (added.length) { list.appendChild(el("li", { className: "diff-added", text: "Added: " + added.join(", ") })); }
    if (removed.length) { list.appendChild(el("li", { className: "diff-removed", text: "Removed: " + removed.join(", ") })); }
    Object.keys(candidates).forEach(function (name) {
      list.appendChild(el("li", { className: "diff-renamed", text: "Perhaps renamed: " + name + " \u2192 " + candidates[name] }));
    });
    if (!list.children.length) { list.appendChild(el("li", { text: "No label was added or removed." })); }
    labelDiff.appendChild(list);

    removed.forEach(function (name) {
      // A suggestion follows the draft until the user chooses; a chosen target that no longer exists is cleared.
      if (!choices[name] || choices[name].auto) {
        choices[name] = candidates[name] ? { op: "rename", to: candidates[name], cases: {}, auto: true }
          : { op: "", to: "", cases: {}, auto: true };
      }
      var choice = choices[name];
      if (choice.to && after.indexOf(choice.to) < 0) { choice.to = ""; }
      if (choice["default"] && after.indexOf(choice["default"]) < 0) { choice["default"] = ""; }
      Object.keys(choice.cases).forEach(function (value) {
        if (after.indexOf(choice.cases[value]) < 0) { delete choice.cases[value]; }
      });
    });
    renderBuilder(removed);
  }

  function labelSelect(value, text, onChange, includeDefault) {
    var select = el("select", { "aria-label": text });
    select.appendChild(option("", includeDefault ? "The default label" : "Choose a label\u2026", !value));
    currentLabels().forEach(function (name) { select.appendChild(option(name, name, name === value)); });
    select.addEventListener("change", function () { onChange(select.value); });
    return select;
  }

  var builderRows = {}; // name -> {row, op, target, attribute, cases: {value: select}, default}

  function renderBuilder(removed) {
    if (!builder) { return; }
    var focused = document.activeElement && builder.contains(document.activeElement) ? document.activeElement.getAttribute("data-key") : null;
    builder.textContent = "";
    builderRows = {};
    builder.hidden = removed.length === 0;
    if (!removed.length) { return; }
    builder.appendChild(el("p", { className: "builder-intro", text: "Annotations made with earlier versions still carry the labels that disappear. Say what happens to each:" }));
    var oldByName = {};
    previousLabels().forEach(function (l) { oldByName[l.name] = l; });
    removed.forEach(function (name) {
      var choice = choices[name];
      var refs = { cases: {} };
      var row = el("div", { className: "migration-row", "data-migration-label": name });
      row.appendChild(el("strong", { className: "migration-from", text: name }));
      var op = el("select", { "aria-label": "What happens to " + name, "data-key": "mig." + name + ".op" }, [
        option("", "Choose\u2026", !choice.op), option("rename", "Rename to", choice.op === "rename"),
        option("merge", "Merge into", choice.op === "merge"), option("split", "Split by attribute", choice.op === "split"),
        option("delete", "Delete its annotations", choice.op === "delete")
      ]);
      op.addEventListener("change", function () { choice.op = op.value; choice.auto = false; renderBuilder(removed); });
      refs.op = op;
      row.appendChild(op);
      if (choice.op === "rename" || choice.op === "merge") {
        refs.target = labelSelect(choice.to, (choice.op === "rename" ? "New name of " : "Label to merge ") + name + (choice.op === "merge" ? " into" : ""),
          function (value) { choice.to = value; choice.auto = false; });
        refs.target.setAttribute("data-key", "mig." + name + ".to");
        row.appendChild(refs.target);
      } else if (choice.op === "split") {
        var attributes = (oldByName[name] && oldByName[name].attributes) || [];
        var attribute = el("select", { "aria-label": "Attribute that splits " + name, "data-key": "mig." + name + ".attribute" });
        attribute.appendChild(option("", "Choose an attribute\u2026", !choice.attribute));
        attributes.forEach(function (a) { attribute.appendChild(option(a.name, a.name, a.name === choice.attribute)); });
        attribute.addEventListener("change", function () {
          choice.attribute = attribute.value;
          choice.cases = {};
          choice.auto = false;
          renderBuilder(removed);
        });
        refs.attribute = attribute;
        row.appendChild(attribute);
        var spec = attributes.filter(function (a) { return a.name === choice.attribute; })[0];
        var values = !spec ? [] : spec.type === "boolean" ? ["true", "false"] : spec.options || [];
        var cases = el("ul", { className: "split-cases" });
        values.forEach(function (value) {
          var select = labelSelect(choice.cases[value] || "", "Label when " + choice.attribute + " is " + value, function (v) {
            if (v) { choice.cases[value] = v; } else { delete choice.cases[value]; }
            choice.auto = false;
          }, true);
          select.setAttribute("data-key", "mig." + name + ".case." + value);
          refs.cases[value] = select;
          cases.appendChild(el("li", {}, [el("span", { text: "When " + choice.attribute + " is " + value + " \u2192 " }), select]));
        });
        refs.casesBox = cases;
        row.appendChild(cases);
        var fallback = labelSelect(choice["default"] || "", "Label of the other annotations of " + name, function (v) { choice["default"] = v; choice.auto = false; });
        fallback.setAttribute("data-key", "mig." + name + ".default");
        refs["default"] = fallback;
        row.appendChild(el("span", { className: "split-default" }, [el("span", { text: spec && spec.type !== "text" && spec.type !== "number" ? "Otherwise \u2192 " : "Every annotation \u2192 " }), fallback]));
      } else if (choice.op === "delete") {
        row.appendChild(el("span", { className: "migration-warning", text: "Its annotations will be deleted (their history keeps them)." }));
      }
      refs.row = row;
      builderRows[name] = refs;
      builder.appendChild(row);
    });
    if (focused) {
      var again = builder.querySelector("[data-key=\"" + cssString(focused) + "\"]");
      if (again) { again.focus(); }
    }
  }

  // The migration map from the builder; marks each control with the path the server will use for it.
  function migrationOps() {
    var ops = [];
    var merges = {};
    Object.keys(builderRows).forEach(function (name) {
      var refs = builderRows[name];
      [refs.row, refs.op, refs.target, refs.attribute, refs["default"], refs.casesBox].forEach(function (node) {
        if (node) { node.removeAttribute("data-path"); }
      });
      Object.keys(refs.cases).forEach(function (value) { refs.cases[value].removeAttribute("data-path"); });
    });
    Object.keys(builderRows).forEach(function (name) {
      var choice = choices[name];
      var refs = builderRows[name];
      var i = ops.length;
      var path = "migration." + i;
      if (choice.op === "merge" && choice.to) {
        if (merges[choice.to]) {
          var merge = merges[choice.to];
          refs.row.setAttribute("data-path", merge.path + ".from." + merge.op.from.length);
          merge.op.from.push(name);
          return;
        }
        merges[choice.to] = { op: { op: "merge", from: [name], to: choice.to }, path: path };
        ops.push(merges[choice.to].op);
      } else if (choice.op === "rename" || choice.op === "merge") {
        ops.push({ op: "rename", from: name, to: choice.to });
      } else if (choice.op === "split") {
        var cases = {};
        Object.keys(choice.cases).forEach(function (value) { if (choice.cases[value]) { cases[value] = choice.cases[value]; } });
        ops.push({ op: "split", from: name, attribute: choice.attribute || "", cases: cases, "default": choice["default"] || null });
        if (refs.attribute) { refs.attribute.setAttribute("data-path", path + ".attribute"); }
        if (refs.casesBox) { refs.casesBox.setAttribute("data-path", path + ".cases"); }
        Object.keys(refs.cases).forEach(function (value) { refs.cases[value].setAttribute("data-path", path + ".cases." + value); });
        if (refs["default"]) { refs["default"].setAttribute("data-path", path + ".default"); }
      } else if (choice.op === "delete") {
        ops.push({ op: "delete", label: name });
      } else {
        return; // the server names it: "Label 'x' is not in the new version"
      }
      refs.row.setAttribute("data-path", path);
      refs.op.setAttribute("data-path", path + ".op");
      if (refs.target) { refs.target.setAttribute("data-path", path + ".to"); }
    });
    // A merge of one label is a rename; the server would refuse a merge of fewer than two.
    return ops.map(function (op) {
      return op.op === "merge" && op.from.length < 2 ? { op: "rename", from: op.from[0], to: op.to } : op;
    });
  }

  function describeMigrationPath(path) {
    var match = /^migration\.(\d+)(.*)$/.exec(path);
    if (!match) { return path === "migration" ? "Migration" : path; }
    var row = builder ? builder.querySelector("[data-path=\"migration." + match[1] + "\"]") : null;
    var name = row ? row.getAttribute("data-migration-label") : null;
    var rest = match[2].replace(/^\./, "").replace(/\./g, ", ");
    return (name ? "What happens to " + name : "Operation " + (Number(match[1]) + 1)) + (rest ? ", " + rest : "");
  }

  var migrationJsonField = document.getElementById("migration-json-field");
  if (migrationJsonField) { migrationJsonField.hidden = true; }
  var publishMessage = document.getElementById("publish_message");
  publishMessage.setAttribute("data-path", "message");

  function versionRow(version) {
    var row = document.getElementById("version-row-template").content.firstElementChild.cloneNode(true);
    row.setAttribute("data-version", String(version.number));
    row.querySelector(".v-number").textContent = "v" + version.number;
    row.querySelector(".v-message").textContent = version.message || "";
    row.querySelector(".v-by").textContent = version.published_by || "";
    var when = el("time", { datetime: version.published_at, text: String(version.published_at || "").slice(0, 16).replace("T", " ") });
    row.querySelector(".v-when").appendChild(when);
    var n = (version.migration || []).length;
    row.querySelector(".v-ops").textContent = n ? n + " operation" + (n === 1 ? "" : "s") : "none";
    var link = row.querySelector(".v-export");
    link.href = state.urls.export + "?version=" + encodeURIComponent(String(version.number));
    link.appendChild(el("span", { className: "visually-hidden", text: " of v" + version.number }));
    return row;
  }

  function published(version) {
    state.previous = { number: version.number, spec: version.spec };
    state.recipe.latestVersion = version.number;
    choices = {};
    var table = document.getElementById("versions-table");
    table.tBodies[0].insertBefore(versionRow(version), table.tBodies[0].firstChild);
    document.getElementById("versions-wrap").hidden = false;
    document.getElementById("no-versions").hidden = true;
    document.getElementById("recipe-version-badge").textContent = "v" + version.number;
    publishButton.textContent = "Publish version " + (version.number + 1);
    publishMessage.value = "";
    if (!labelDiff) {
      // The first version: the diff and the builder have a place from the second on.
      labelDiff = el("div", { id: "label-diff", className: "label-diff", "aria-live": "polite" });
      builder = el("div", { id: "migration-builder", className: "migration-builder", "data-path": "migration", hidden: true });
      var row = publishButton.closest(".button-row");
      row.parentNode.insertBefore(labelDiff, row);
      row.parentNode.insertBefore(builder, row);
    }
    refreshDiff();
  }

  publishForm.addEventListener("submit", function (event) {
    event.preventDefault();
    publishErrors.hidden = true;
    clearFieldErrors(publishForm);
    publishButton.disabled = true;
    publishStatus.textContent = isDirty() ? "Saving the draft first\u2026" : "Publishing\u2026";
    save().then(function (saved) {
      if (!saved) {
        publishButton.disabled = false;
        publishStatus.textContent = "";
        showErrors(publishForm, publishErrors, "Nothing was published:", [{ path: null, message: "The draft could not be saved: correct it above first." }], String);
        return null;
      }
      publishStatus.textContent = "Publishing\u2026";
      var body = { message: publishMessage.value };
      if (state.previous) { body.migration = migrationOps(); }
      return api("POST", state.urls.publish, body).then(function (result) {
        publishButton.disabled = false;
        if (result.ok && result.data) {
          publishStatus.textContent = "Version " + result.data.number + " was published.";
          publishErrors.hidden = true;
          published(result.data);
          if (result.data.number > 1) { showPreview(result.data.number); }
          return;
        }
        publishStatus.textContent = "";
        showErrors(publishForm, publishErrors, "The version was not published:", errorMessages(result.status, result.data), function (path) {
          return /^migration/.test(path) ? describeMigrationPath(path) : path === "spec" ? "Draft" : describePath(path);
        });
      });
    });
  });

  // --- The label migration: preview, apply, progress ---------------------------------------------

  var targetVersion = null;
  var run = null;

  function showPreview(number) {
    targetVersion = number;
    migrationPanel.hidden = false;
    migrationErrors.hidden = true;
    migrationProgress.hidden = true;
    migrationApply.hidden = true;
    migrationApply.disabled = false;
    migrationPreview.textContent = "Working out what version " + number + " changes\u2026";
    var url = state.urls.preview + "?to_version=" + encodeURIComponent(String(number));
    return api("GET", url).then(function (result) {
      if (!result.ok || !result.data) {
        migrationPreview.textContent = "";
        window.dlsaas.showErrorList(migrationErrors, "The preview is not available:", errorMessages(result.status, result.data).map(function (e) { return e.message; }));
        return;
      }
      renderPreview(result.data);
    });
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function renderPreview(preview) {
    migrationPreview.textContent = "";
    var total = Number(preview.total) || 0;
    if (!total) {
      migrationPreview.appendChild(el("p", { id: "preview-summary", text: "No annotation was made with an earlier version: there is nothing to apply." }));
      return;
    }
    migrationPreview.appendChild(el("p", { id: "preview-summary", text: plural(total, "annotation") + (total === 1 ? " was" : " were") + " made with earlier versions. Applying version " + preview.to_version + (total === 1 ? " to it:" : " to them:") }));
    var list = el("ul", { id: "preview-changes", className: "preview-changes" });
    (preview.relabel || []).forEach(function (r) {
      list.appendChild(el("li", { className: "preview-relabel", text: r.from + " \u2192 " + r.to + ": " + plural(Number(r.count) || 0, "annotation") + " relabelled" }));
    });
    (preview["delete"] || []).forEach(function (d) {
      list.appendChild(el("li", { className: "preview-delete", text: d.label + ": " + plural(Number(d.count) || 0, "annotation") + " deleted" }));
    });
    var unchanged = Number(preview.unchanged) || 0;
    list.appendChild(el("li", { className: "preview-unchanged", text: plural(unchanged, "annotation") + (unchanged === 1 ? " keeps its label" : " keep their label") }));
    migrationPreview.appendChild(list);
    migrationApply.hidden = false;
  }

  migrationApply.addEventListener("click", function () {
    migrationApply.disabled = true;
    migrationErrors.hidden = true;
    api("POST", state.urls.migrations, { to_version: targetVersion }).then(function (result) {
      if (!result.ok || !result.data) {
        migrationApply.disabled = false;
        window.dlsaas.showErrorList(migrationErrors, "The migration did not start:", errorMessages(result.status, result.data).map(function (e) { return e.message; }));
        return;
      }
      run = result.data;
      migrationApply.hidden = true;
      migrationProgress.hidden = false;
      showRun(run);
      follow();
    });
  });

  var STATUS_WORDS = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
  function unfinished(status) { return status === "queued" || status === "running"; }

  function showRun(data) {
    var total = Number(data.total) || 0;
    var processed = Number(data.processed) || 0;
    migrationProgress.setAttribute("data-status", data.status);
    if (total) {
      migrationBar.max = total;
      migrationBar.value = Math.min(processed, total);
    } else if (unfinished(data.status)) {
      migrationBar.removeAttribute("value");
    } else {
      migrationBar.max = 1;
      migrationBar.value = 1;
    }
    var words = STATUS_WORDS[data.status] || String(data.status);
    if (data.status === "done") {
      migrationStatus.textContent = "Done: " + plural(processed, "annotation") + " moved to version " + targetVersion
        + (data.relabelled !== undefined ? " (" + Number(data.relabelled) + " relabelled, " + Number(data.deleted) + " deleted)." : ".");
    } else if (data.status === "failed") {
      migrationStatus.textContent = "Failed" + (data.message ? ": " + String(data.message) : ".");
    } else {
      migrationStatus.textContent = words + ": " + processed + " of " + total + " annotations.";
    }
  }

  var polling = null;
  var socket = null;

  function stopFollowing() {
    if (polling !== null) { window.clearInterval(polling); polling = null; }
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
  }

  function runUrl(id) { return state.urls.run.replace(/\/0\/$/, "/" + encodeURIComponent(String(id)) + "/"); }

  var pollInFlight = false;
  function pollOnce() {
    if (!run || pollInFlight) { return; }
    pollInFlight = true;
    api("GET", runUrl(run.id)).then(function (result) {
      pollInFlight = false;
      if (result.ok && result.data) { update(result.data); }
    });
  }

  function update(data) {
    if (!run || Number(data.id !== undefined ? data.id : data.run_id) !== Number(run.id)) { return; }
    showRun(data);
    if (!unfinished(data.status)) {
      stopFollowing();
      if (data.relabelled === undefined) { pollOnce(); } // the event has no counts: read them once
    }
  }

  function startPolling() { if (polling === null) { polling = window.setInterval(pollOnce, POLL_MS); } }

  function follow() {
    startPolling();
    if (!("WebSocket" in window)) { return; }
    try {
      var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(proto + "//" + window.location.host + "/ws/o/" + encodeURIComponent(state.orgSlug) + "/recipes/");
    } catch (e) { return; }
    socket.onopen = function () {
      migrationProgress.setAttribute("data-live", "connected");
      if (polling !== null) { window.clearInterval(polling); polling = null; }
      pollOnce(); // catch up with what happened before the socket opened
    };
    socket.onmessage = function (event) {
      var message = parseJson(event.data);
      if (message && message.event === "migration.progress" && message.data) { update(message.data); }
    };
    socket.onclose = function (event) {
      socket = null;
      migrationProgress.setAttribute("data-live", "polling");
      if (run && unfinished(migrationProgress.getAttribute("data-status"))) { startPolling(); }
      if (event.code === CLOSE_UNAUTHORISED) { return; }
    };
  }

  // --- Start ----------------------------------------------------------------------------------------

  loadRecipe(state.recipe);
  summary.hidden = true;
  editor.hidden = false;
  saveStatus.textContent = "";
  if (state.previous && state.previous.number > 1) {
    // Annotations may still carry an earlier version (a migration not applied yet): say so.
    showPreview(state.previous.number).then(function () {
      if (migrationApply.hidden) { migrationPanel.hidden = true; }
    });
  }
})();
