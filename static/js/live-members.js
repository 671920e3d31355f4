// Live members table: listens on /ws/o/<slug>/members/ and adds, updates or removes rows
// without a reload. Data from the socket only ever goes through textContent / value, never
// innerHTML. Without a websocket (old browser, plain WSGI server, closed for lack of access)
// it stays silent: the page still shows the truth on reload.
(function () {
  "use strict";

  var table = document.getElementById("members-table");
  if (!table || !("WebSocket" in window) || !("content" in document.createElement("template"))) {
    return;
  }
  var tbody = table.tBodies[0];
  var template = document.getElementById("member-row-template");
  var announcer = document.getElementById("members-live");
  var countEl = document.getElementById("members-count");
  var selfUserId = String(table.dataset.selfUserId || "");
  var membersUrl = table.dataset.membersUrl;
  var roleLabels = readJson("role-labels", {});
  var grantable = readJson("grantable-roles", []);

  var CLOSE_UNAUTHORISED = 4403;
  var MAX_RETRIES = 6;
  var retries = 0;

  function readJson(id, fallback) {
    var el = document.getElementById(id);
    if (!el) { return fallback; }
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  }

  function socketUrl() {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + window.location.host + "/ws/o/" + encodeURIComponent(table.dataset.orgSlug) + "/members/";
  }

  function rowFor(userId) {
    var rows = tbody.rows;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].dataset.userId === String(userId)) { return rows[i]; }
    }
    return null;
  }

  function announce(text) {
    if (announcer) { announcer.textContent = text; }
  }

  function updateCount() {
    if (!countEl) { return; }
    var n = tbody.rows.length;
    countEl.textContent = n + (n === 1 ? " member" : " members");
  }

  function roleLabel(role) {
    return Object.prototype.hasOwnProperty.call(roleLabels, role) ? roleLabels[role] : String(role);
  }

  // Controls only where the server would render them: not on your own row, not for a role you may not grant.
  function fitControls(row, data) {
    var actions = row.querySelector(".member-actions");
    if (!actions) { return; }
    var manageable = String(data.user_id) !== selfUserId && grantable.indexOf(data.role) !== -1;
    if (!manageable) {
      actions.querySelectorAll("form.role-form, a.remove-link").forEach(function (el) { el.remove(); });
      return;
    }
    var select = actions.querySelector("select[name=role]");
    if (select) { select.value = data.role; }
  }

  function fill(row, data) {
    row.dataset.userId = String(data.user_id);
    row.dataset.memberId = String(data.id);
    row.querySelector(".member-email").textContent = data.email;
    row.querySelector(".member-name").textContent = data.name;
    row.querySelector(".member-role").textContent = roleLabel(data.role);
    fitControls(row, data);
  }

  function addRow(data) {
    if (rowFor(data.user_id)) { updateRow(data); return; }
    var row = template.content.firstElementChild.cloneNode(true);
    var id = String(data.id);
    row.id = "member-" + id;
    var form = row.querySelector("form.role-form");
    if (form) {
      form.action = membersUrl + encodeURIComponent(id) + "/role/";
      var select = form.querySelector("select");
      var label = form.querySelector("label");
      select.id = "role-" + id;
      label.htmlFor = select.id;
    }
    var remove = row.querySelector("a.remove-link");
    if (remove) { remove.href = membersUrl + encodeURIComponent(id) + "/remove/"; }
    row.querySelectorAll(".member-email-label").forEach(function (el) { el.textContent = data.email; });
    fill(row, data);
    row.classList.add("row-new");
    // Keep the table sorted by email, as the server renders it.
    var before = null;
    for (var i = 0; i < tbody.rows.length; i++) {
      var email = tbody.rows[i].querySelector(".member-email");
      if (email && email.textContent.toLowerCase() > String(data.email).toLowerCase()) { before = tbody.rows[i]; break; }
    }
    tbody.insertBefore(row, before);
    updateCount();
    announce(data.email + " joined as " + roleLabel(data.role) + ".");
  }

  function updateRow(data) {
    var row = rowFor(data.user_id);
    if (!row) { addRow(data); return; }
    fill(row, data);
    announce(data.email + " is now " + roleLabel(data.role) + ".");
  }

  function removeRow(data) {
    var row = rowFor(data.user_id);
    if (!row) { return; }
    row.remove();
    updateCount();
    announce(data.email + " was removed.");
  }

  var handlers = {
    "member.joined": addRow,
    "member.role_changed": updateRow,
    "member.removed": removeRow
  };

  function connect() {
    var socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch (e) {
      return;
    }
    socket.onopen = function () {
      retries = 0;
      table.dataset.live = "connected";
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (!message || typeof message !== "object" || !message.data || typeof message.data !== "object") { return; }
      var handler = handlers[message.event];
      if (handler) { handler(message.data); }
    };
    socket.onerror = function () { /* a close event follows; nothing to tell the user */ };
    socket.onclose = function (event) {
      table.dataset.live = "disconnected";
      if (event.code === CLOSE_UNAUTHORISED || retries >= MAX_RETRIES) { return; }
      retries += 1;
      window.setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries)));
    };
  }

  connect();
})();
