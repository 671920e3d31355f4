// Recipe editor, the parts of a label's details: the attribute table (a label's attributes, or the item's) and the
// keypoint skeleton editor (points and the edges between them). Each change edits the model, then re-renders.
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var el = R.dom.el;
  var option = R.dom.option;
  var button = R.dom.button;

  var TYPE_NAMES = { "enum": "One of", multi_enum: "Several of", text: "Text", number: "Number", "boolean": "Yes / no" };

  // Defined by files loaded later (save.js, labels.js); looked up when called.
  function changed() { R.save.changed(); }
  function render(focusAfter) { R.labels.render(focusAfter); }

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
      var attribute = R.model.attributeModel({ type: "enum" });
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
    ctx.types.forEach(function (t) { type.appendChild(option(t, TYPE_NAMES[t] || t, t === attribute.type)); });
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

  R.attributes = { attributesEditor: attributesEditor, skeletonEditor: skeletonEditor };
})(window.dlsaasRecipes);
