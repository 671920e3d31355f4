// Recipe editor, the label migration: previews what applying a version changes to the annotations made with earlier
// ones, applies it, and follows its progress live (websocket /ws/o/<slug>/recipes/, or asking
// GET /api/v1/label-migrations/<id>/ every second while the socket is not open).
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var el = R.dom.el;
  var errors = R.errors;

  var POLL_MS = 1000;
  var CLOSE_UNAUTHORISED = 4403;

  // The page's elements, from bind().
  var migrationPanel, migrationPreview, migrationApply, migrationErrors, migrationProgress, migrationBar, migrationStatus;

  function api(method, url, body) { return R.save.api(method, url, body); }

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
    var url = ctx.state.urls.preview + "?to_version=" + encodeURIComponent(String(number));
    return api("GET", url).then(function (result) {
      if (!result.ok || !result.data) {
        migrationPreview.textContent = "";
        window.dlsaas.showErrorList(migrationErrors, "The preview is not available:", errors.errorMessages(result.status, result.data).map(function (e) { return e.message; }));
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

  function runUrl(id) { return ctx.state.urls.run.replace(/\/0\/$/, "/" + encodeURIComponent(String(id)) + "/"); }

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
      socket = new WebSocket(proto + "//" + window.location.host + "/ws/o/" + encodeURIComponent(ctx.state.orgSlug) + "/recipes/");
    } catch (e) { return; }
    socket.onopen = function () {
      migrationProgress.setAttribute("data-live", "connected");
      if (polling !== null) { window.clearInterval(polling); polling = null; }
      pollOnce(); // catch up with what happened before the socket opened
    };
    socket.onmessage = function (event) {
      var message = R.dom.parseJson(event.data);
      if (message && message.event === "migration.progress" && message.data) { update(message.data); }
    };
    socket.onclose = function (event) {
      socket = null;
      migrationProgress.setAttribute("data-live", "polling");
      if (run && unfinished(migrationProgress.getAttribute("data-status"))) { startPolling(); }
      if (event.code === CLOSE_UNAUTHORISED) { return; }
    };
  }

  function bind() {
    migrationPanel = document.getElementById("migration-panel");
    migrationPreview = document.getElementById("migration-preview");
    migrationApply = document.getElementById("migration-apply");
    migrationErrors = document.getElementById("migration-errors");
    migrationProgress = document.getElementById("migration-progress");
    migrationBar = document.getElementById("migration-bar");
    migrationStatus = document.getElementById("migration-status");

    migrationApply.addEventListener("click", function () {
      migrationApply.disabled = true;
      migrationErrors.hidden = true;
      api("POST", ctx.state.urls.migrations, { to_version: targetVersion }).then(function (result) {
        if (!result.ok || !result.data) {
          migrationApply.disabled = false;
          window.dlsaas.showErrorList(migrationErrors, "The migration did not start:", errors.errorMessages(result.status, result.data).map(function (e) { return e.message; }));
          return;
        }
        run = result.data;
        migrationApply.hidden = true;
        migrationProgress.hidden = false;
        showRun(run);
        follow();
      });
    });
  }

  // On opening the page: annotations may still carry an earlier version (a migration not applied yet); the panel
  // stays only when there is something to apply.
  function previewPending(number) {
    return showPreview(number).then(function () {
      if (migrationApply.hidden) { migrationPanel.hidden = true; }
    });
  }

  R.migration = { bind: bind, showPreview: showPreview, previewPending: previewPending };
})(window.dlsaasRecipes);
