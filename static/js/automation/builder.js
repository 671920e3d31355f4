// The pipeline builder: edits the graph in the page and talks to the API.
// - Nodes: one fieldset per node (its name and a form generated from its type's fields, from the node registry).
// - Connections: one row per edge with from / to / when selects (when only for a branching node such as route).
// - "Check the pipeline" posts the graph to validate/; "Save" PATCHes it; "Run on the chosen items" saves, then
//   starts a run with at most max_dry_run item ids and opens its monitor.
// Errors come back keyed by path (graph.nodes.2.config.score_threshold) and are shown, as text, beside the node,
// field or connection they name; anything else goes in the list at the top.
(function () {
  "use strict";

  var root = document.getElementById("builder");
  var dataEl = document.getElementById("builder-data");
  if (!root || !dataEl) { return; }
  var config = JSON.parse(dataEl.textContent);
  var types = {};
  config.node_types.forEach(function (t) { types[t.type] = t; });
  var graph = JSON.parse(JSON.stringify(config.pipeline.graph || { nodes: [], edges: [] }));
  graph.nodes = graph.nodes || [];
  graph.edges = graph.edges || [];
  var editable = !!config.may_manage;
  var nodeList = document.getElementById("node-list");
  var edgeList = document.getElementById("edge-list");
  var topErrors = document.getElementById("builder-errors");
  var statusLine = document.getElementById("builder-status");
  var uid = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function errorSlot(path) {
    var slot = el("p", { "class": "field-error", "data-error-for": path, id: "err-" + (uid += 1) });
    slot.hidden = true;
    return slot;
  }

  function labelled(labelText, control, path, help) {
    var wrap = el("div", { "class": "field" });
    var id = "f-" + (uid += 1);
    control.id = id;
    wrap.appendChild(el("label", { "for": id }, labelText));
    wrap.appendChild(control);
    if (help) {
      var hid = id + "-help";
      wrap.appendChild(el("p", { "class": "helptext", id: hid }, help));
      control.setAttribute("aria-describedby", hid);
    }
    var slot = errorSlot(path);
    wrap.appendChild(slot);
    control.setAttribute("data-path", path);
    if (!editable) { control.disabled = true; }
    return wrap;
  }

  function select(options, value) {
    var s = el("select");
    options.forEach(function (o) {
      var opt = el("option", { value: String(o[0]) }, o[1]);
      if (String(o[0]) === String(value === undefined || value === null ? "" : value)) { opt.selected = true; }
      s.appendChild(opt);
    });
    return s;
  }

  function fieldControl(field, node, nodeIndex) {
    var value = node.config[field.name];
    var path = "graph.nodes." + nodeIndex + ".config." + field.name;
    var control;
    if (field.kind === "choice") {
      control = select(field.choices, value === undefined ? field.choices[0][0] : value);
      control.addEventListener("change", function () { node.config[field.name] = control.value; render(); });
    } else if (field.kind === "model_version" || field.kind === "task") {
      var choices = [["", field.kind === "task" ? "Choose a task" : "Choose a model version"]].concat(config.choices[field.kind] || []);
      control = select(choices, value);
      control.addEventListener("change", function () {
        if (control.value === "") { delete node.config[field.name]; } else { node.config[field.name] = parseInt(control.value, 10); }
      });
    } else if (field.kind === "fraction") {
      control = el("input", { type: "number", min: "0", max: "1", step: "0.01", inputmode: "decimal" });
      control.value = value === undefined || value === null ? "" : String(value);
      control.addEventListener("input", function () {
        if (control.value.trim() === "") { delete node.config[field.name]; return; }
        var n = Number(control.value);
        node.config[field.name] = isNaN(n) ? control.value : n;
      });
    } else if (field.kind === "integer") {
      control = el("input", { type: "number", min: "0", step: "1", inputmode: "numeric" });
      control.value = value === undefined || value === null ? "" : String(value);
      control.addEventListener("input", function () {
        if (control.value.trim() === "") { delete node.config[field.name]; return; }
        var n = Number(control.value);
        node.config[field.name] = isNaN(n) ? control.value : n;
      });
    } else if (field.kind === "labels") {
      control = el("input", { type: "text" });
      control.value = (value || []).join(", ");
      control.addEventListener("input", function () {
        node.config[field.name] = control.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      });
    } else if (field.kind === "json") {
      // A query-language filter: kept as parsed JSON when it parses, else as typed (the server names the problem).
      control = el("textarea", { rows: "3", spellcheck: "false" });
      control.value = value === undefined || value === null ? "" : (typeof value === "string" ? value : JSON.stringify(value));
      control.addEventListener("input", function () {
        var text = control.value.trim();
        if (text === "") { delete node.config[field.name]; return; }
        try { node.config[field.name] = JSON.parse(text); } catch (e) { node.config[field.name] = text; }
      });
    } else {
      control = el("input", { type: "text", maxlength: field.kind === "folder" ? "1000" : "500" });
      control.value = value === undefined || value === null ? "" : String(value);
      control.addEventListener("input", function () { node.config[field.name] = control.value; });
    }
    return labelled(field.label, control, path, field.help);
  }

  var WHEN_DEFAULTS = { kind: "manual", scope: "dataset" };  // a setting left out means its default

  function shown(field, node) {
    if (!field.when) { return true; }
    return Object.keys(field.when).every(function (k) {
      var want = field.when[k], have = node.config[k] || WHEN_DEFAULTS[k] || "";
      return Array.isArray(want) ? want.indexOf(have) >= 0 : have === want;
    });
  }

  function renderNode(node, index) {
    var type = types[node.type] || { label: node.type, fields: [], branches: [] };
    node.config = node.config || {};
    type.fields.forEach(function (f) { if (!shown(f, node)) { delete node.config[f.name]; } });
    var li = el("li", { "class": "pipeline-node", "data-node-index": String(index) });
    var fs = el("fieldset");
    fs.appendChild(el("legend", {}, (type.label || node.type) + ": " + node.id));
    fs.appendChild(errorSlot("graph.nodes." + index));
    var name = el("input", { type: "text", maxlength: "64" });
    name.value = node.id;
    name.addEventListener("change", function () {
      var old = node.id, now = name.value.trim();
      graph.edges.forEach(function (e) { if (e.from === old) { e.from = now; } if (e.to === old) { e.to = now; } });
      node.id = now;
      render();
    });
    fs.appendChild(labelled("Name", name, "graph.nodes." + index + ".id"));
    type.fields.forEach(function (f) { if (shown(f, node)) { fs.appendChild(fieldControl(f, node, index)); } });
    if (editable) {
      var remove = el("button", { type: "button", "class": "button button-small button-secondary" }, "Remove " + node.id);
      remove.addEventListener("click", function () {
        graph.edges = graph.edges.filter(function (e) { return e.from !== node.id && e.to !== node.id; });
        graph.nodes.splice(index, 1);
        render();
        document.getElementById("add-node-type").focus();
      });
      fs.appendChild(remove);
    }
    li.appendChild(fs);
    return li;
  }

  function renderEdge(edge, index) {
    var li = el("li", { "class": "pipeline-edge", "data-edge-index": String(index) });
    var ids = graph.nodes.map(function (n) { return [n.id, n.id]; });
    var from = select([["", "Choose"]].concat(ids), edge.from);
    from.addEventListener("change", function () { edge.from = from.value; delete edge.when; render(); });
    var to = select([["", "Choose"]].concat(ids), edge.to);
    to.addEventListener("change", function () { edge.to = to.value; });
    li.appendChild(labelled("From", from, "graph.edges." + index + ".from"));
    li.appendChild(labelled("To", to, "graph.edges." + index + ".to"));
    var source = graph.nodes.filter(function (n) { return n.id === edge.from; })[0];
    var branches = source && types[source.type] ? types[source.type].branches : [];
    if (branches.length) {
      var when = select([["", "Choose"]].concat(branches.map(function (b) { return [b, b]; })), edge.when);
      when.addEventListener("change", function () { if (when.value) { edge.when = when.value; } else { delete edge.when; } });
      li.appendChild(labelled("When", when, "graph.edges." + index + ".when"));
    }
    li.appendChild(errorSlot("graph.edges." + index));
    if (editable) {
      var remove = el("button", { type: "button", "class": "button button-small button-secondary" }, "Remove this connection");
      remove.addEventListener("click", function () { graph.edges.splice(index, 1); render(); document.getElementById("add-edge").focus(); });
      li.appendChild(remove);
    }
    return li;
  }

  function render() {
    nodeList.textContent = "";
    graph.nodes.forEach(function (n, i) { nodeList.appendChild(renderNode(n, i)); });
    edgeList.textContent = "";
    graph.edges.forEach(function (e, i) { edgeList.appendChild(renderEdge(e, i)); });
    if (!graph.edges.length) { edgeList.appendChild(el("li", { "class": "muted" }, "No connection yet.")); }
  }

  function clearErrors() {
    topErrors.hidden = true;
    topErrors.textContent = "";
    root.querySelectorAll("[data-error-for]").forEach(function (slot) { slot.hidden = true; slot.textContent = ""; });
    root.querySelectorAll("[aria-invalid]").forEach(function (c) { c.removeAttribute("aria-invalid"); });
  }

  function showErrors(problem) {
    clearErrors();
    var errors = (problem && problem.errors) || {};
    var rest = [];
    var first = null;
    Object.keys(errors).forEach(function (path) {
      var text = [].concat(errors[path]).join(" ");
      var slot = null;
      root.querySelectorAll("[data-error-for]").forEach(function (s) { if (s.getAttribute("data-error-for") === path) { slot = s; } });
      if (!slot) { rest.push(path + ": " + text); return; }
      slot.textContent = text;
      slot.hidden = false;
      var control = null;
      root.querySelectorAll("[data-path]").forEach(function (c) { if (c.getAttribute("data-path") === path) { control = c; } });
      if (control) {
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", ((control.getAttribute("aria-describedby") || "") + " " + slot.id).trim());
      }
      first = first || control || slot;
    });
    if (!Object.keys(errors).length) { rest.push((problem && (problem.detail || problem.title)) || "The request failed."); }
    if (rest.length) { window.dlsaas.showErrorList(topErrors, "Please fix these problems:", rest); }
    statusLine.textContent = "The pipeline has problems: see the messages beside the nodes and connections.";
    if (first && first.focus) { first.setAttribute("tabindex", first.getAttribute("tabindex") || "-1"); first.focus(); }
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": window.dlsaas.csrfToken() },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, data: data }; });
    }, function () { return { ok: false, data: { detail: "The server could not be reached." } }; });
  }

  function currentGraph() {
    return { nodes: graph.nodes.map(function (n) { return { id: n.id, type: n.type, config: n.config }; }),
             edges: graph.edges.map(function (e) { var o = { from: e.from, to: e.to }; if (e.when) { o.when = e.when; } return o; }) };
  }

  function validate() {
    statusLine.textContent = "Checking…";
    return api("POST", config.urls.validate, { graph: currentGraph() }).then(function (res) {
      if (!res.ok) { showErrors(res.data); return false; }
      clearErrors();
      statusLine.textContent = "The pipeline is valid.";
      return true;
    });
  }

  function save() {
    statusLine.textContent = "Saving…";
    return api("PATCH", config.urls.pipeline, { graph: currentGraph() }).then(function (res) {
      if (!res.ok) { showErrors(res.data); return false; }
      clearErrors();
      graph = JSON.parse(JSON.stringify(res.data.graph));
      render();
      statusLine.textContent = "Saved at " + new Date().toLocaleTimeString() + ".";
      return true;
    });
  }

  function dryRun() {
    var ids = [];
    root.querySelectorAll("#dry-run-items input:checked").forEach(function (c) { ids.push(parseInt(c.value, 10)); });
    if (!ids.length || ids.length > config.max_dry_run) {
      window.dlsaas.showErrorList(topErrors, "The dry run could not start:",
        ["Choose 1 to " + config.max_dry_run + " items."]);
      return;
    }
    save().then(function (saved) {
      if (!saved) { return; }
      statusLine.textContent = "Starting the run…";
      api("POST", config.urls.run, { item_ids: ids }).then(function (res) {
        if (!res.ok) { showErrors(res.data); return; }
        statusLine.textContent = "The run started: opening its monitor.";
        window.location.assign(config.urls.monitor.replace("{id}", String(res.data.id)));
      });
    });
  }

  function freeId(type) {
    var used = {};
    graph.nodes.forEach(function (n) { used[n.id] = true; });
    var i = 1;
    while (used[type + "_" + i]) { i += 1; }
    return type + "_" + i;
  }

  if (editable) {
    var typeSelect = document.getElementById("add-node-type");
    config.node_types.forEach(function (t) { typeSelect.appendChild(el("option", { value: t.type }, t.label)); });
    document.getElementById("add-node").addEventListener("click", function () {
      var type = typeSelect.value;
      graph.nodes.push({ id: freeId(type), type: type, config: {} });
      render();
      var inputs = nodeList.lastElementChild.querySelectorAll("input, select");
      if (inputs.length) { inputs[0].focus(); }
    });
    document.getElementById("add-edge").addEventListener("click", function () {
      var last = graph.nodes.length ? graph.nodes[graph.nodes.length - 1].id : "";
      var prev = graph.nodes.length > 1 ? graph.nodes[graph.nodes.length - 2].id : "";
      graph.edges.push({ from: prev, to: last });
      render();
      edgeList.lastElementChild.querySelector("select").focus();
    });
    document.getElementById("validate").addEventListener("click", validate);
    document.getElementById("save").addEventListener("click", save);
    var box = document.getElementById("dry-run-items");
    config.items.forEach(function (item) {
      var id = "dry-" + item[0];
      var wrap = el("div", { "class": "checkbox" });
      var input = el("input", { type: "checkbox", id: id, value: String(item[0]) });
      input.addEventListener("change", function () {
        var n = box.querySelectorAll("input:checked").length;
        box.querySelectorAll("input:not(:checked)").forEach(function (c) { c.disabled = n >= config.max_dry_run; });
      });
      wrap.appendChild(input);
      wrap.appendChild(el("label", { "for": id }, item[1]));
      box.appendChild(wrap);
    });
    if (!config.items.length) { box.appendChild(el("p", { "class": "muted" }, "The dataset has no items yet.")); }
    document.getElementById("dry-run").addEventListener("click", dryRun);
  }
  render();
  root.dataset.ready = "yes";
})();
