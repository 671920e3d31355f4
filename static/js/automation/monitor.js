// The run monitor, live: listens on /ws/o/<slug>/pipelines/ and, when an event names this run, re-reads the run
// (GET /api/v1/pipeline-runs/<id>/) a quarter of a second after the last event of a burst, then shows its counts,
// status and failed items as text. Socket data only decides *when* to re-read. "Retry the failed items" posts to
// the API and says in words what went wrong.
(function () {
  "use strict";

  var monitor = document.getElementById("monitor");
  var dataEl = document.getElementById("monitor-data");
  if (!monitor || !dataEl) { return; }
  var config = JSON.parse(dataEl.textContent);
  var note = document.getElementById("monitor-note");
  var STATUS_LABELS = { running: "Running", done: "Done", failed: "Finished with failures" };
  var CLOSE_UNAUTHORISED = 4403;
  var DEBOUNCE_MS = 250;
  var POLL_MS = 15000;
  var retries = 0, timer = null, running = false, again = false;

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, DEBOUNCE_MS);
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function showCounts(nodes) {
    var body = document.querySelector("#node-counts tbody");
    Object.keys(nodes).forEach(function (nodeId) {
      var row = null;
      body.querySelectorAll("tr[data-node]").forEach(function (tr) { if (tr.dataset.node === nodeId) { row = tr; } });
      if (!row) { return; }
      config.statuses.forEach(function (status, index) {
        var td = row.querySelector('[data-status-index="' + index + '"]');
        var n = String(nodes[nodeId][status] || 0);
        if (td && td.textContent !== n) {
          td.textContent = n;
          td.classList.remove("changed");
          void td.offsetWidth;
          td.classList.add("changed");
        }
      });
    });
  }

  function showFailed(failed) {
    var body = document.querySelector("#failed-table tbody");
    body.textContent = "";
    failed.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.appendChild(cell(row.node_id));
      tr.appendChild(cell(row.item_id));
      tr.appendChild(cell(row.attempts));
      tr.appendChild(cell(row.error));
      body.appendChild(tr);
    });
    document.getElementById("failed-wrap").hidden = failed.length === 0;
    document.getElementById("no-failures").hidden = failed.length !== 0;
    var retry = document.getElementById("retry-failed");
    if (retry) { retry.hidden = failed.length === 0; }
  }

  function showStatus(status) {
    var badge = document.getElementById("run-status");
    if (!STATUS_LABELS[status]) { return; }
    badge.textContent = STATUS_LABELS[status];
    badge.className = "badge status-" + status;
    monitor.dataset.status = status;
  }

  function refresh() {
    if (running) { again = true; return; }
    running = true;
    fetch(config.run_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (run) {
        showCounts(run.nodes || {});
        showFailed(run.failed || []);
        showStatus(run.status);
        note.textContent = "Updated at " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function () { note.textContent = "The counts could not be updated just now; reload the page to see the latest."; })
      .then(function () { running = false; if (again) { again = false; schedule(); } });
  }

  function problemMessages(problem) {
    var out = [];
    if (problem && problem.errors && typeof problem.errors === "object") {
      Object.keys(problem.errors).forEach(function (key) {
        [].concat(problem.errors[key]).forEach(function (m) { out.push(String(m)); });
      });
    }
    if (!out.length) { out.push((problem && (problem.detail || problem.title)) || "The request failed."); }
    return out;
  }

  var retryButton = document.getElementById("retry-failed");
  if (retryButton) {
    retryButton.addEventListener("click", function () {
      var box = document.getElementById("retry-errors");
      box.hidden = true;
      retryButton.disabled = true;
      fetch(config.retry_url, { method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": window.dlsaas.csrfToken() } })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (body) {
            if (!r.ok) { window.dlsaas.showErrorList(box, "The failed items could not be retried:", problemMessages(body)); return; }
            note.textContent = body.queued + " item runs were queued again.";
            schedule();
          });
        })
        .catch(function () { window.dlsaas.showErrorList(box, "The failed items could not be retried:", ["The server could not be reached."]); })
        .then(function () { retryButton.disabled = false; });
    });
  }

  function connect() {
    if (!("WebSocket" in window)) { return; }
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket;
    try {
      socket = new WebSocket(proto + "//" + window.location.host + "/ws/o/" + encodeURIComponent(config.org_slug) + "/pipelines/");
    } catch (e) { return; }
    socket.onopen = function () { retries = 0; monitor.dataset.live = "connected"; schedule(); };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (!message || !message.data || String(message.data.run_id) !== String(config.run_id)) { return; }
      schedule();
    };
    socket.onclose = function (event) {
      monitor.dataset.live = "disconnected";
      if (event.code === CLOSE_UNAUTHORISED || retries >= 6) { return; }
      retries += 1;
      window.setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries)));
    };
  }

  window.setInterval(function () {
    if (document.visibilityState === "visible" && monitor.dataset.status === "running") { schedule(); }
  }, POLL_MS);
  connect();
})();
