// Recipe editor, publishing: the labels compared with the last version (added, removed, perhaps renamed), the
// migration map built from the labels that disappear (rename, merge, split by attribute, delete), and the publish
// form: it saves the draft first, POSTs the version with that map, and adds the new version to the page.
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var el = R.dom.el;
  var option = R.dom.option;
  var cssString = R.dom.cssString;
  var errors = R.errors;

  // The page's elements, from bind(). The diff and the builder exist from the second version on: published() makes
  // them after the first.
  var labelDiff, builder, publishForm, publishErrors, publishStatus, publishButton, publishMessage;

  var choices = {}; // label that disappears -> {op, to, attribute, cases, default}

  function previousLabels() {
    return ctx.state.previous ? ctx.state.previous.spec.labels || [] : [];
  }

  function currentLabels() {
    return ctx.model.labels.map(function (l) { return l.name.trim(); }).filter(Boolean);
  }

  // For a label that disappears, the added label that most looks like it (same hotkey, colour, place).
  function renameCandidates(removed, added) {
    var current = {};
    ctx.model.labels.forEach(function (l, i) { current[l.name.trim()] = { label: l, index: i }; });
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
    if (!labelDiff || !ctx.state.previous) { return; }
    var before = previousLabels().map(function (l) { return l.name; });
    var after = currentLabels();
    var removed = before.filter(function (n) { return after.indexOf(n) < 0; });
    var added = after.filter(function (n) { return before.indexOf(n) < 0; });
    var candidates = renameCandidates(removed, added);
    labelDiff.textContent = "";
    labelDiff.hidden = false;
    labelDiff.appendChild(el("p", { className: "diff-intro", text: "Labels compared with version " + ctx.state.previous.number + ":" }));
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
    link.href = ctx.state.urls.export + "?version=" + encodeURIComponent(String(version.number));
    link.appendChild(el("span", { className: "visually-hidden", text: " of v" + version.number }));
    return row;
  }

  function published(version) {
    ctx.state.previous = { number: version.number, spec: version.spec };
    ctx.state.recipe.latestVersion = version.number;
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

  function bind() {
    publishForm = document.getElementById("publish-form");
    publishErrors = document.getElementById("publish-errors");
    publishStatus = document.getElementById("publish-status");
    publishButton = document.getElementById("publish-button");
    labelDiff = document.getElementById("label-diff");
    builder = document.getElementById("migration-builder");

    var migrationJsonField = document.getElementById("migration-json-field");
    if (migrationJsonField) { migrationJsonField.hidden = true; }
    publishMessage = document.getElementById("publish_message");
    publishMessage.setAttribute("data-path", "message");

    publishForm.addEventListener("submit", function (event) {
      event.preventDefault();
      publishErrors.hidden = true;
      errors.clearFieldErrors(publishForm);
      publishButton.disabled = true;
      publishStatus.textContent = R.save.isDirty() ? "Saving the draft first\u2026" : "Publishing\u2026";
      R.save.save().then(function (saved) {
        if (!saved) {
          publishButton.disabled = false;
          publishStatus.textContent = "";
          errors.showErrors(publishForm, publishErrors, "Nothing was published:", [{ path: null, message: "The draft could not be saved: correct it above first." }], String);
          return null;
        }
        publishStatus.textContent = "Publishing\u2026";
        var body = { message: publishMessage.value };
        if (ctx.state.previous) { body.migration = migrationOps(); }
        return R.save.api("POST", ctx.state.urls.publish, body).then(function (result) {
          publishButton.disabled = false;
          if (result.ok && result.data) {
            publishStatus.textContent = "Version " + result.data.number + " was published.";
            publishErrors.hidden = true;
            published(result.data);
            if (result.data.number > 1) { R.migration.showPreview(result.data.number); }
            return;
          }
          publishStatus.textContent = "";
          errors.showErrors(publishForm, publishErrors, "The version was not published:", errors.errorMessages(result.status, result.data), function (path) {
            return /^migration/.test(path) ? describeMigrationPath(path) : path === "spec" ? "Draft" : errors.describePath(path);
          });
        });
      });
    });
  }

  R.publish = { bind: bind, refreshDiff: refreshDiff };
})(window.dlsaasRecipes);
