// The performance pages, live: the task dashboard (team table with sparklines, burn-down, quality vs speed) and
// a person's own scorecard (trend, figures by task). Both read the JSON report API and re-read it when the
// "tasks" websocket topic says work changed (on this task, or on the caller's units), a second after the last event
// of a burst, and every minute while visible. Text goes in with textContent only; Chart.js (vendored, pinned)
// draws the charts.
(function () {
  "use strict";

  var dataEl = document.getElementById("perf-config");
  var root = document.getElementById("perf");
  if (!dataEl || !root || !window.Chart) { return; }
  var config = JSON.parse(dataEl.textContent);
  var note = document.getElementById("perf-live-note");
  var DEBOUNCE_MS = 1000;
  var POLL_MS = 60000;
  var CLOSE_UNAUTHORISED = 4403;
  var MAX_RETRIES = 6;
  var retries = 0, timer = null, running = false, again = false;
  var charts = {};
  var sparklines = [];

  function getJson(query) {
    return fetch(config.report_url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }

  function num(value, digits) {
    if (value === null || value === undefined) { return "–"; }
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 1 : digits });
  }

  function pct(value) { return value === null || value === undefined ? "–" : Math.round(value * 100) + "%"; }

  function duration(seconds) {
    if (!seconds) { return "0 min"; }
    var minutes = Math.round(seconds / 60);
    return minutes < 60 ? minutes + " min" : (minutes / 60).toFixed(1) + " h";
  }

  function cell(row, text, attrs) {
    var td = document.createElement("td");
    td.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { td.setAttribute(k, attrs[k]); });
    row.appendChild(td);
    return td;
  }

  function chart(id, spec) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    if (charts[id]) {
      charts[id].data = spec.data;
      charts[id].options = spec.options || {};
      charts[id].update("none");
    } else {
      charts[id] = new window.Chart(canvas, spec);
    }
    return charts[id];
  }

  function days(seriesForKey) { return Object.keys(seriesForKey || {}).sort(); }

  // --- the task dashboard ---------------------------------------------------------------------------------------

  function showTeam(report) {
    var body = document.querySelector("#team-table tbody");
    sparklines.forEach(function (c) { c.destroy(); });
    sparklines = [];
    var rows = report.results;
    var allDays = {};
    Object.keys(report.series || {}).forEach(function (k) { days(report.series[k]).forEach(function (d) { allDays[d] = true; }); });
    var dayList = Object.keys(allDays).sort();
    var fresh = document.createDocumentFragment();
    if (!rows.length) {
      var empty = document.createElement("tr");
      cell(empty, "No annotators on this task yet.", { colspan: "11", "class": "muted" });
      fresh.appendChild(empty);
    }
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.dataset.person = String(r.id);
      if (r.flags) { tr.classList.add("flagged"); }
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = r.label;
      tr.appendChild(th);
      var spark = cell(tr, "");
      var canvas = document.createElement("canvas");
      canvas.className = "sparkline";
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", "Units done per day by " + r.label);
      spark.appendChild(canvas);
      cell(tr, String(r.units_done), { "data-stat": "units_done" });
      cell(tr, num(r.items_per_active_hour), { "data-stat": "items_per_active_hour" });
      cell(tr, num(r.time_per_item_median, 0), { "data-stat": "time_per_item_median" });
      cell(tr, num(r.time_per_item_p90, 0), { "data-stat": "time_per_item_p90" });
      cell(tr, pct(r.rejection_rate), { "data-stat": "rejection_rate" });
      cell(tr, duration(r.rework_seconds), { "data-stat": "rework_seconds" });
      cell(tr, r.quality_score === null ? "–" : pct(r.quality_score) + " (" + r.quality_source + ")", { "data-stat": "quality_score" });
      cell(tr, r.cost === null ? "–" : num(r.cost, 2) + " " + r.currency, { "data-stat": "cost" });
      cell(tr, (r.flags || "").replace(/_/g, " "), { "data-stat": "flags", "class": "flag" });
      fresh.appendChild(tr);
      var mine = (report.series || {})[String(r.id)] || {};
      sparklines.push({ canvas: canvas, values: dayList.map(function (d) { return mine[d] || 0; }) });
    });
    body.replaceChildren(fresh);
    sparklines = sparklines.map(function (s) {
      return new window.Chart(s.canvas, {
        type: "line",
        data: { labels: dayList, datasets: [{ data: s.values, borderWidth: 1.5, pointRadius: 0, tension: 0.3 }] },
        options: { animation: false, responsive: false, events: [],
                   plugins: { legend: { display: false }, tooltip: { enabled: false } },
                   scales: { x: { display: false }, y: { display: false, beginAtZero: true } } },
      });
    });
    var points = rows.filter(function (r) { return r.time_per_item_median !== null && r.quality_score !== null; });
    chart("scatter-chart", {
      type: "scatter",
      data: { datasets: [{
        label: "Annotators",
        data: points.map(function (r) { return { x: r.time_per_item_median, y: r.quality_score, label: r.label }; }),
        pointBackgroundColor: points.map(function (r) { return r.flags ? "#c0392b" : "#3867d6"; }),
        pointRadius: 5,
      }] },
      options: { animation: false, plugins: { legend: { display: false }, tooltip: { callbacks: {
        label: function (ctx) { return ctx.raw.label + ": " + Math.round(ctx.raw.x) + " s, " + pct(ctx.raw.y); } } } },
        scales: { x: { title: { display: true, text: "median seconds per unit" }, beginAtZero: true },
                  y: { title: { display: true, text: "quality" }, min: 0, max: 1 } } },
    });
  }

  function showBurndown(report, dayReport) {
    var task = report.task;
    var progress = document.getElementById("perf-progress");
    progress.max = Math.max(task.units_total, 1);
    progress.value = task.units_finished;
    document.getElementById("perf-progress-text").textContent = task.units_finished + " of " + task.units_total + " finished";
    var labels = dayReport.results.map(function (r) { return r.id; });
    var left = task.units_total, remaining = [];
    dayReport.results.forEach(function (r) { left -= r.units_done; remaining.push(Math.max(left, 0)); });
    var datasets = [{ label: "Units left", data: remaining, borderColor: "#3867d6", pointRadius: 2 }];
    if (task.due_at) {
      var start = new Date(task.created_at.slice(0, 10) + "T00:00:00Z").getTime();
      var due = new Date(task.due_at).getTime();
      var pace = labels.map(function (d) {
        var t = new Date(d + "T23:59:59Z").getTime();
        return Math.max(0, task.units_total * (1 - (t - start) / Math.max(due - start, 1)));
      });
      datasets.push({ label: "Even pace to the due date", data: pace, borderDash: [6, 4], borderColor: "#8395a7", pointRadius: 0 });
    }
    chart("burndown-chart", {
      type: "line",
      data: { labels: labels, datasets: datasets },
      options: { animation: false, scales: { y: { beginAtZero: true, title: { display: true, text: "units" } } } },
    });
  }

  // --- a person's own scorecard -------------------------------------------------------------------------------

  function showOwn(byTask, byDay) {
    var body = document.querySelector("#own-table tbody");
    var fresh = document.createDocumentFragment();
    if (!byTask.results.length) {
      var empty = document.createElement("tr");
      cell(empty, "You are not a member of any task yet.", { colspan: "8", "class": "muted" });
      fresh.appendChild(empty);
    }
    byTask.results.forEach(function (r) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = r.label;
      tr.appendChild(th);
      cell(tr, String(r.units_done), { "data-stat": "units_done" });
      cell(tr, num(r.items_per_active_hour));
      cell(tr, num(r.time_per_item_median, 0));
      cell(tr, num(r.time_per_item_p90, 0));
      cell(tr, pct(r.rejection_rate));
      cell(tr, duration(r.rework_seconds));
      cell(tr, r.quality_score === null ? "–" : pct(r.quality_score));
      fresh.appendChild(tr);
    });
    body.replaceChildren(fresh);
    chart("trend-chart", {
      type: "bar",
      data: { labels: byDay.results.map(function (r) { return r.id; }), datasets: [
        { type: "bar", label: "Units done", data: byDay.results.map(function (r) { return r.units_done; }), yAxisID: "y",
          backgroundColor: "#74b9ff" },
        { type: "line", label: "Items per active hour", data: byDay.results.map(function (r) { return r.items_per_active_hour; }),
          yAxisID: "y1", borderColor: "#e17055", spanGaps: true },
      ] },
      options: { animation: false, scales: { y: { beginAtZero: true, position: "left" },
                                              y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } },
    });
  }

  function showOwnReviews(byTask) {
    var body = document.querySelector("#own-review-table tbody");
    if (!body) { return; }
    var fresh = document.createDocumentFragment();
    if (!byTask.results.length) {
      var empty = document.createElement("tr");
      cell(empty, "You review no task yet.", { colspan: "8", "class": "muted" });
      fresh.appendChild(empty);
    }
    byTask.results.forEach(function (r) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = r.label;
      tr.appendChild(th);
      cell(tr, String(r.units_done), { "data-stat": "units_done" });
      cell(tr, num(r.items_per_active_hour));
      cell(tr, num(r.time_per_item_median, 0));
      cell(tr, num(r.time_per_item_p90, 0));
      cell(tr, String(r.approvals), { "data-stat": "approvals" });
      cell(tr, String(r.rejections), { "data-stat": "rejections" });
      cell(tr, pct(r.rejection_rate));
      fresh.appendChild(tr);
    });
    body.replaceChildren(fresh);
  }

  function load() {
    if (config.task_id) {
      return Promise.all([getJson("?group=annotator"), getJson("?group=day")]).then(function (answers) {
        showTeam(answers[0]);
        showBurndown(answers[0], answers[1]);
      });
    }
    var asks = [getJson("?group=task"), getJson("?group=day")];
    if (config.reviews) { asks.push(getJson("?group=task&stage=review")); }
    return Promise.all(asks).then(function (answers) {
      showOwn(answers[0], answers[1]);
      if (answers[2]) { showOwnReviews(answers[2]); }
    });
  }

  function refresh() {
    if (running) { again = true; return; }
    running = true;
    load().then(function () {
      root.dataset.loaded = "true";
      note.textContent = "Updated at " + new Date().toLocaleTimeString() + ".";
    }).catch(function () {
      note.textContent = "The figures could not be updated just now; reload the page to see the latest.";
    }).then(function () {
      running = false;
      if (again) { again = false; schedule(); }
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, DEBOUNCE_MS);
  }

  function concerned(data) {
    if (config.task_id) { return String(data.task_id) === String(config.task_id); }
    return String(data.assignee_id) === String(config.user_id);
  }

  function connect() {
    if (!("WebSocket" in window)) { return; }
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket;
    try {
      socket = new WebSocket(proto + "//" + window.location.host + "/ws/o/" + encodeURIComponent(config.org_slug) + "/tasks/");
    } catch (e) { return; }
    socket.onopen = function () { retries = 0; root.dataset.live = "connected"; schedule(); };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (!message || !message.data || typeof message.data !== "object") { return; }
      if (concerned(message.data)) { schedule(); }
    };
    socket.onerror = function () { /* a close event follows */ };
    socket.onclose = function (event) {
      root.dataset.live = "disconnected";
      if (event.code === CLOSE_UNAUTHORISED || retries >= MAX_RETRIES) { return; }
      retries += 1;
      window.setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries)));
    };
  }

  refresh();
  window.setInterval(function () { if (document.visibilityState === "visible") { schedule(); } }, POLL_MS);
  connect();
})();
