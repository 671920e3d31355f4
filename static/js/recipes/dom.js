// The recipe editor is several classic scripts that templates/recipes/editor.html loads with defer, in this order:
// dom.js, model.js, errors.js, instructions.js, attributes.js, labels.js, save.js, publish.js, migration.js and
// editor.js, which starts it. They share one object, window.dlsaasRecipes (R): each file adds its part (R.dom,
// R.model, …), and R.ctx holds what they all read (the page's state, the draft being edited). Files only define
// functions when they load; editor.js checks the page, fills R.ctx, binds each part and renders.
// Functions of a file loaded later are looked up when called (R.save.changed()), never when a file loads.
//
// This file: the namespace and the small DOM helpers (text only, never HTML).
window.dlsaasRecipes = (function () {
  "use strict";

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

  // A value for a quoted CSS attribute selector ([data-path="…"]).
  function cssString(text) { return String(text).replace(/["\\]/g, "\\$&"); }

  return {
    ctx: {}, // filled by editor.js: state, model, tools, types, palette, defaultTools, csrfToken
    dom: { el: el, option: option, button: button, quoted: quoted, parseJson: parseJson, splitList: splitList, cssString: cssString }
  };
})();
