// The task board, live: listens on /ws/o/<slug>/tasks/ and, when an event names this task, re-reads the counts from
// the API (GET /api/v1/tasks/<id>/) and the members and units tables from the page (board_live), a quarter of a
// second after the last event of a burst. Socket data only decides *when* to re-read; what is shown comes from
// those reads (text only for the counts; the tables are the server's own escaped HTML). Without a websocket the
// page still shows the truth on reload.
(function () {
  "use strict";

  var board = document.getElementById("board");
  var dataEl = document.getElementById("board-data");
  if (!board || !dataEl) { return; }
  var config = JSON.parse(dataEl.textContent);
  var people = document.getElementById("board-people");
  var note = document.getElementById("board-live-note");
  var STATUS_LABELS = { active: "Active", paused: "Paused", done: "Done" };
  var CLOSE_UNAUTHORISED = 4403;
  var MAX_RETRIES = 6;
  var DEBOUNCE_MS = 250;
  var POLL_MS = 30000; // also re-read now and then: not every change sends an event (a lease does not yet)
  var retries = 0;
  var timer = null;
  var running = false;
  var again = false;
  var peopleStale = false;

  function socketUrl() {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + window.location.host + "/ws/o/" + encodeURIComponent(config.org_slug) + "/tasks/";
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, DEBOUNCE_MS);
  }

  function showCounts(task) {
    var total = 0, finished = 0;
    board.querySelectorAll("[data-count]").forEach(function (cell) {
      var parts = cell.dataset.count.split("-");
      var stage = parts[0], state = parts.slice(1).join("-");
      var n = (task.counts && task.counts[stage] && task.counts[stage][state]) || 0;
      if (cell.textContent !== String(n)) {
        cell.textContent = String(n);
        cell.classList.remove("changed");
        void cell.offsetWidth; // restart the highlight
        cell.classList.add("changed");
      }
      if (stage === "annotate" && state !== "cancelled") { total += n; }
      if (stage === "annotate" && (state === "done" || state === "approved")) { finished += n; }
    });
    var progress = document.getElementById("task-progress");
    progress.max = Math.max(total, 1);
    progress.value = finished;
    var percent = total ? Math.round((100 * finished) / total) : 0;
    document.getElementById("task-progress-text").textContent = finished + " of " + total + " finished (" + percent + "%)";
    showStatus(task.status);
  }

  function showStatus(status) {
    var badge = document.getElementById("task-status");
    if (!badge || !STATUS_LABELS[status]) { return; }
    badge.textContent = STATUS_LABELS[status];
    badge.className = "badge status-" + status;
    var form = document.getElementById("status-form");
    if (!form) { return; }
    var input = form.querySelector("input[name=status]");
    var button = form.querySelector("button");
    var paused = status === "paused";
    input.value = paused ? "active" : "paused";
    button.textContent = paused ? "Resume the task" : "Pause the task";
    button.className = paused ? "button button-small" : "button button-small button-secondary";
  }

  function showPeople(html) {
    // Not while someone is using a control in the tables: their choice would be lost. Done when they leave it.
    if (people.contains(document.activeElement)) { peopleStale = true; return; }
    peopleStale = false;
    people.innerHTML = html;
  }

  function refresh() {
    if (running) { again = true; return; }
    running = true;
    var counts = fetch(config.task_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (task) { if (task) { showCounts(task); } });
    var rows = fetch(config.people_url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { showPeople(html); } });
    Promise.all([counts, rows]).then(function () {
      note.textContent = "Updated at " + new Date().toLocaleTimeString() + ".";
    }).catch(function () {
      note.textContent = "The counts could not be updated just now; reload the page to see the latest.";
    }).then(function () {
      running = false;
      if (again) { again = false; schedule(); }
    });
  }

  people.addEventListener("focusout", function () {
    window.setTimeout(function () { if (peopleStale && !people.contains(document.activeElement)) { schedule(); } }, 0);
  });

  function connect() {
    if (!("WebSocket" in window)) { return; }
    var socket;
    try { socket = new WebSocket(socketUrl()); } catch (e) { return; }
    socket.onopen = function () {
      retries = 0;
      board.dataset.live = "connected";
      schedule(); // whatever happened while the socket was down
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (!message || !message.data || typeof message.data !== "object") { return; }
      if (String(message.data.task_id) !== String(config.task_id)) { return; }
      schedule();
    };
    socket.onerror = function () { /* a close event follows */ };
    socket.onclose = function (event) {
      board.dataset.live = "disconnected";
      if (event.code === CLOSE_UNAUTHORISED || retries >= MAX_RETRIES) { return; }
      retries += 1;
      window.setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries)));
    };
  }

  window.setInterval(function () {
    if (document.visibilityState === "visible") { schedule(); }
  }, POLL_MS);
  connect();
})();
