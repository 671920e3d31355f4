// Recipe editor, the form: renders the label table (one tbody per label: name, colour, hotkey, parent, tools, order,
// then its attributes and skeleton) and the item attributes from the model, keeping the focus on the same control
// (data-key) across renders; fills and binds the plain fields (name, description, instructions, review).
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var el = R.dom.el;
  var option = R.dom.option;
  var button = R.dom.button;
  var quoted = R.dom.quoted;

  var TOOL_NAMES = {
    classification: "Classification", point: "Point", keypoints: "Keypoints", bbox: "Box", rotated_bbox: "Rotated box",
    ellipse: "Ellipse", polyline: "Polyline", polygon: "Polygon", mask: "Mask"
  };

  // The page's elements, from bind().
  var editor, labelsTable, noLabels, itemAttributesBox, nameInput, descriptionInput, reviewRequired, reviewRatio, reviewReasons;

  // Defined by files loaded later (save.js, publish.js); looked up when called.
  function changed() { R.save.changed(); }
  function refreshDiff() { R.publish.refreshDiff(); }

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
    R.errors.clearFieldErrors(editor);
    Array.prototype.slice.call(labelsTable.tBodies).forEach(function (body) { body.remove(); });
    parentNames = JSON.stringify(labelNames(null));
    ctx.model.labels.forEach(function (label, index) { labelsTable.appendChild(labelBlock(label, index)); });
    noLabels.hidden = ctx.model.labels.length > 0;
    itemAttributesBox.textContent = "";
    itemAttributesBox.appendChild(R.attributes.attributesEditor(ctx.model.attributes, "attributes", "item attribute", "item", "Add item attribute"));
    focusKey(key);
    refreshDiff();
  }

  function fillStatic() {
    nameInput.value = ctx.model.name;
    descriptionInput.value = ctx.model.description;
    R.instructions.setInstructions(ctx.model.instructions);
    reviewRequired.checked = ctx.model.review.required;
    reviewRatio.value = ctx.model.review.ratio;
    reviewReasons.value = ctx.model.review.reasons;
  }

  function labelNames(except) {
    return ctx.model.labels.filter(function (l) { return l !== except && l.name.trim(); }).map(function (l) { return l.name.trim(); });
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
    ctx.model.labels.forEach(function (label) {
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
        ctx.model.labels.forEach(function (other) { if (other.parent === before) { other.parent = after; } });
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
    ctx.tools.forEach(function (tool) {
      var id = label.uid + "-tool-" + tool;
      var box = el("input", { type: "checkbox", id: id, value: tool, checked: label.tools.indexOf(tool) >= 0,
        "data-key": label.uid + ".tool." + tool });
      box.addEventListener("change", function () {
        label.tools = ctx.tools.filter(function (t) {
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
      button("\u2193", { "aria-label": "Move label " + n + " down", disabled: index === ctx.model.labels.length - 1,
        "data-key": label.uid + ".down" }, function () { move(index, 1, label.uid + ".down"); }),
      button("Remove", { className: "button button-small button-danger", "aria-label": "Remove label " + n + " " + quoted(label.name) },
        function () {
          ctx.model.labels.splice(index, 1);
          ctx.model.labels.forEach(function (other) { if (other.parent === label.name.trim()) { other.parent = ""; } });
          changed();
          var next = ctx.model.labels[index] || ctx.model.labels[index - 1];
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
        details.appendChild(R.attributes.skeletonEditor(label, index));
      } else if (!on && present && empty) {
        label.skeleton = null;
        present.remove();
      }
    }

    var details = el("td", { colspan: 7, className: "label-details" }, [
      R.attributes.attributesEditor(label.attributes, path + ".attributes", "attribute", "label " + n, "Add attribute to label " + n, label.uid)
    ]);
    if (label.skeleton || label.tools.indexOf("keypoints") >= 0) {
      details.appendChild(R.attributes.skeletonEditor(label, index));
    }
    body.appendChild(el("tr", { className: "label-details-row" }, [details]));
    return body;
  }

  function move(index, delta, key) {
    var target = index + delta;
    if (target < 0 || target >= ctx.model.labels.length) { return; }
    var moved = ctx.model.labels.splice(index, 1)[0];
    ctx.model.labels.splice(target, 0, moved);
    changed();
    render(key);
  }

  function bind() {
    editor = document.getElementById("recipe-editor");
    labelsTable = document.getElementById("labels-table");
    noLabels = document.getElementById("no-labels");
    itemAttributesBox = document.getElementById("item-attributes");
    nameInput = document.getElementById("recipe-name");
    descriptionInput = document.getElementById("recipe-description");
    reviewRequired = document.getElementById("review-required");
    reviewRatio = document.getElementById("review-ratio");
    reviewReasons = document.getElementById("review-reasons");

    document.getElementById("add-label").addEventListener("click", function () {
      var label = R.model.labelModel({}, ctx.model.labels.length);
      ctx.model.labels.push(label);
      changed();
      render(label.uid + ".name");
    });

    nameInput.addEventListener("input", function () { ctx.model.name = nameInput.value; changed(); });
    descriptionInput.addEventListener("input", function () { ctx.model.description = descriptionInput.value; changed(); });
    reviewRequired.addEventListener("change", function () { ctx.model.review.required = reviewRequired.checked; changed(); });
    reviewRatio.addEventListener("input", function () { ctx.model.review.ratio = reviewRatio.value; changed(); });
    reviewReasons.addEventListener("input", function () { ctx.model.review.reasons = reviewReasons.value; changed(); });
  }

  R.labels = { bind: bind, render: render, fillStatic: fillStatic };
})(window.dlsaasRecipes);
