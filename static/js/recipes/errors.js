// Recipe editor, errors by dotted path: the server's errors come back keyed by the place they concern
// ("labels.2.hotkey", "migration.0.to"); each is shown next to the element whose data-path names that place (or the
// nearest one above it), described in words, and listed in a box with a link to its field.
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var el = R.dom.el;
  var quoted = R.dom.quoted;
  var cssString = R.dom.cssString;

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
        label = ctx.model.labels[Number(next)];
        words.push("Label " + (Number(next) + 1) + (label ? " " + quoted(label.name.trim()) : ""));
        i += 1;
      } else if (part === "attributes" && /^\d+$/.test(next || "")) {
        var list = label ? label.attributes : ctx.model.attributes;
        var attribute = list[Number(next)];
        words.push((label ? "attribute " : "Item attribute ") + (Number(next) + 1) + (attribute ? " " + quoted(attribute.name.trim()) : ""));
        i += 1;
      } else {
        words.push(part.replace(/_/g, " "));
      }
    }
    return words.join(", ");
  }

  // An API answer's errors as [{path, message}]; path is null for what concerns no one field.
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

  R.errors = {
    clearFieldErrors: clearFieldErrors, describePath: describePath, errorMessages: errorMessages, showErrors: showErrors
  };
})(window.dlsaasRecipes);
