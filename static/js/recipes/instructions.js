// Recipe editor, the instructions: a small rich-text editor (contenteditable and a toolbar); what it holds is cleaned
// like the server cleans it (allowed tags and attributes only, links and images by http(s), mailto or same-site path).
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var area = null; // #instructions-editor, from bind()

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
    area.textContent = "";
    cleanInto(area, template.content);
  }

  var savedRange = null;

  function restoreSelection() {
    area.focus();
    if (savedRange) {
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(savedRange);
    }
  }

  function bind() {
    area = document.getElementById("instructions-editor");
    area.addEventListener("blur", function () {
      var selection = window.getSelection();
      if (selection.rangeCount && area.contains(selection.anchorNode)) { savedRange = selection.getRangeAt(0); }
    });
    area.addEventListener("input", function () { ctx.model.instructions = area.innerHTML; R.save.changed(); });

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
        ctx.model.instructions = area.innerHTML;
        R.save.changed();
      });
    });
  }

  R.instructions = { bind: bind, setInstructions: setInstructions };
})(window.dlsaasRecipes);
