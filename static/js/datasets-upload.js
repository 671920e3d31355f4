// Upload page: sends chosen or dropped files one per request to the items API with per-file progress, starts
// imports through the imports API, and follows import jobs live on /ws/o/<slug>/imports/ (or, without a
// websocket, by asking GET /api/v1/imports/<id>/ every 2 seconds). Names and messages from files and the
// server only ever go through textContent. Without this script both forms post to the page itself.
(function () {
  "use strict";

  var stateEl = document.getElementById("upload-state");
  if (!stateEl || !window.XMLHttpRequest || !window.FormData || !("content" in document.createElement("template"))) {
    return;
  }
  var state;
  try { state = JSON.parse(stateEl.textContent); } catch (e) { return; }

  var uploadForm = document.getElementById("upload-form");
  var fileInput = document.getElementById("upload-files");
  var folderInput = document.getElementById("upload_folder");
  var dropZone = document.getElementById("drop-zone");
  var uploadList = document.getElementById("upload-list");
  var uploadSummary = document.getElementById("upload-summary");
  var uploadRowTemplate = document.getElementById("upload-row-template");
  var importForm = document.getElementById("import-form");
  var importFile = document.getElementById("import_file");
  var importFolder = document.getElementById("import_folder");
  var importError = document.getElementById("import-error");
  var importUpload = document.getElementById("import-upload");
  var importsTable = document.getElementById("imports-table");
  var importRowTemplate = document.getElementById("import-row-template");
  var importsLive = document.getElementById("imports-live");
  var noImports = document.getElementById("no-imports");

  var CONCURRENT_UPLOADS = 3;
  var POLL_MS = 2000;
  var CLOSE_UNAUTHORISED = 4403;
  var STATUS_LABELS = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };

  var csrfToken = window.dlsaas.csrfToken;

  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  // The API's problem+json as sentences. Per-file errors ("files.0") already name the file.
  function problemMessages(status, data) {
    var out = [];
    if (data && data.errors && typeof data.errors === "object") {
      Object.keys(data.errors).forEach(function (path) {
        var list = Array.isArray(data.errors[path]) ? data.errors[path] : [data.errors[path]];
        list.forEach(function (message) {
          out.push(/^files(\.\d+)?$|^file$/.test(path) ? String(message) : path + ": " + String(message));
        });
      });
    }
    if (!out.length) {
      out.push(data && data.detail ? String(data.detail)
        : status === 413 ? "The file is too large for the server." : "The server answered with status " + status + ".");
    }
    return out;
  }

  function send(url, formData, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.withCredentials = true;
      if (xhr.upload && onProgress) {
        xhr.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) { onProgress(event.loaded, event.total); }
        });
      }
      xhr.addEventListener("load", function () {
        resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data: parseJson(xhr.responseText) });
      });
      xhr.addEventListener("error", function () { resolve({ ok: false, status: 0, data: null, network: true }); });
      xhr.addEventListener("abort", function () { resolve({ ok: false, status: 0, data: null, network: true }); });
      xhr.send(formData);
    });
  }

  function itemUrl(id) { return state.itemUrl.replace(/\/0\/$/, "/" + encodeURIComponent(String(id)) + "/"); }
  function importUrl(id) { return state.importUrl.replace(/\/0\/$/, "/" + encodeURIComponent(String(id)) + "/"); }
  function errorsPageUrl(id) { return state.errorsPageUrl.replace(/\/0\/errors\/$/, "/" + encodeURIComponent(String(id)) + "/errors/"); }

  // --- Uploads ------------------------------------------------------------------------------

  var queue = [];
  var active = 0;
  var batch = { total: 0, done: 0, failed: 0 };

  function summarise() {
    var finished = batch.done + batch.failed;
    if (finished < batch.total) {
      uploadSummary.textContent = "Uploading: " + finished + " of " + batch.total + " files finished.";
    } else {
      uploadSummary.textContent = batch.done + " of " + batch.total + (batch.total === 1 ? " file" : " files") + " uploaded"
        + (batch.failed ? "; " + batch.failed + " failed (see below)." : ".");
    }
  }

  function finishRow(row, ok, text, id) {
    row.classList.add(ok ? "upload-done" : "upload-failed");
    var stateText = row.querySelector(".upload-state");
    stateText.textContent = text;
    var progress = row.querySelector("progress");
    progress.value = ok ? 100 : progress.value;
    if (ok && id !== undefined) {
      var link = document.createElement("a");
      link.href = itemUrl(id);
      link.textContent = "Open";
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " " + row.querySelector(".upload-name").textContent;
      link.appendChild(hidden);
      stateText.appendChild(document.createTextNode(" "));
      stateText.appendChild(link);
    }
  }

  function uploadOne(job) {
    active += 1;
    var data = new FormData();
    data.append("files", job.file, job.file.name);
    data.append("folder", job.folder);
    var progress = job.row.querySelector("progress");
    var stateText = job.row.querySelector(".upload-state");
    stateText.textContent = "Sending\u2026";
    send(state.itemsUrl, data, function (loaded, total) {
      var percent = Math.round((loaded / total) * 100);
      progress.value = percent;
      stateText.textContent = percent + "%";
    }).then(function (result) {
      active -= 1;
      if (result.ok && Array.isArray(result.data) && result.data.length) {
        batch.done += 1;
        finishRow(job.row, true, "Uploaded.", result.data[0].id);
      } else {
        batch.failed += 1;
        finishRow(job.row, false, result.network ? "The server could not be reached." : problemMessages(result.status, result.data).join(" "));
      }
      summarise();
      pump();
    });
  }

  function pump() {
    while (active < CONCURRENT_UPLOADS && queue.length) { uploadOne(queue.shift()); }
  }

  function startUploads(files) {
    if (!files || !files.length) {
      uploadSummary.textContent = "Choose at least one file to upload.";
      fileInput.focus();
      return;
    }
    var folder = folderInput && folderInput.value.trim() ? folderInput.value.trim() : "/";
    if (batch.done + batch.failed >= batch.total) { batch = { total: 0, done: 0, failed: 0 }; }
    Array.prototype.forEach.call(files, function (file) {
      var row = uploadRowTemplate.content.firstElementChild.cloneNode(true);
      row.querySelector(".upload-name").textContent = file.name;
      row.querySelector("progress").setAttribute("aria-label", "Upload of " + file.name);
      row.querySelector(".upload-state").textContent = "Waiting";
      uploadList.appendChild(row);
      queue.push({ file: file, folder: folder, row: row });
      batch.total += 1;
    });
    summarise();
    fileInput.value = "";
    pump();
  }

  uploadForm.addEventListener("submit", function (event) {
    event.preventDefault();
    startUploads(fileInput.files);
  });

  document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
  ["dragenter", "dragover"].forEach(function (name) {
    dropZone.addEventListener(name, function (event) {
      event.preventDefault();
      dropZone.classList.add("drag-over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    dropZone.addEventListener(name, function (event) {
      event.preventDefault();
      dropZone.classList.remove("drag-over");
    });
  });
  dropZone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files) { startUploads(event.dataTransfer.files); }
  });

  // --- Import jobs --------------------------------------------------------------------------

  function jobRow(id) {
    return importsTable.querySelector("tbody tr[data-job-id='" + String(Number(id)) + "']");
  }

  function unfinished(status) { return status === "queued" || status === "running"; }

  function upsertJob(job) {
    if (!job || typeof job !== "object" || Number(job.dataset) !== Number(state.dataset)) { return; }
    var id = Number(job.id);
    if (!id) { return; }
    var row = jobRow(id);
    var previous = row ? row.dataset.status : null;
    if (!row) {
      row = importRowTemplate.content.firstElementChild.cloneNode(true);
      row.dataset.jobId = String(id);
      var started = row.querySelector(".job-started");
      started.textContent = "Just now";
      importsTable.tBodies[0].insertBefore(row, importsTable.tBodies[0].firstChild);
      noImports.hidden = true;
      document.getElementById("imports-wrap").hidden = false;
    }
    var status = String(job.status || "");
    var total = Number(job.total) || 0;
    var processed = Number(job.processed) || 0;
    var failed = Number(job.failed) || 0;
    row.dataset.status = status;
    if (job.message) { row.querySelector(".job-file").textContent = String(job.message).slice(0, 200); }
    row.querySelector(".job-status").textContent = STATUS_LABELS[status] || status;
    var progress = row.querySelector("progress");
    if (total) {
      progress.max = total;
      progress.value = Math.min(processed, total);
    } else if (unfinished(status)) {
      progress.removeAttribute("value");
    } else {
      progress.max = 1;
      progress.value = 1;
    }
    row.querySelector(".job-counts").textContent = processed + (total ? " of " + total : "") + " rows: "
      + (Number(job.succeeded) || 0) + " imported, " + failed + " failed";
    var errors = row.querySelector(".job-errors a");
    errors.href = errorsPageUrl(id);
    errors.hidden = failed === 0;
    if (previous !== status && !unfinished(status)) {
      importsLive.textContent = "Import " + (status === "done" ? "finished" : "failed") + ": "
        + (Number(job.succeeded) || 0) + " imported, " + failed + " failed.";
    }
  }

  var polling = null;
  var pollInFlight = false;

  function pollOnce() {
    if (pollInFlight) { return; }
    var ids = Array.prototype.filter.call(importsTable.querySelectorAll("tbody tr[data-job-id]"), function (row) {
      return unfinished(row.dataset.status);
    }).map(function (row) { return row.dataset.jobId; });
    if (!ids.length) { return; }
    pollInFlight = true;
    Promise.all(ids.map(function (id) {
      return fetch(importUrl(id), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(upsertJob, function () { /* the next poll tries again */ });
    })).then(function () { pollInFlight = false; });
  }

  function startPolling() {
    if (polling === null) { polling = window.setInterval(pollOnce, POLL_MS); }
    pollOnce();
  }

  function stopPolling() {
    if (polling !== null) { window.clearInterval(polling); polling = null; }
  }

  var retries = 0;
  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var socket;
    try {
      var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(proto + "//" + window.location.host + "/ws/o/" + encodeURIComponent(state.orgSlug) + "/imports/");
    } catch (e) {
      startPolling();
      return;
    }
    socket.onopen = function () {
      retries = 0;
      importsTable.dataset.live = "connected";
      stopPolling();
      pollOnce(); // catch up with what changed before the socket opened
    };
    socket.onmessage = function (event) {
      var message = parseJson(event.data);
      if (message && message.event === "import.progress") { upsertJob(message.data); }
    };
    socket.onerror = function () { /* a close event follows */ };
    socket.onclose = function (event) {
      importsTable.dataset.live = "polling";
      startPolling();
      if (event.code === CLOSE_UNAUTHORISED || retries >= 6) { return; }
      retries += 1;
      window.setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, retries)));
    };
  }

  importForm.addEventListener("submit", function (event) {
    event.preventDefault();
    importError.hidden = true;
    importError.textContent = "";
    var file = importFile.files && importFile.files[0];
    if (!file) {
      showImportError(["Choose a manifest (.csv or .jsonl) or a zip archive first."]);
      importFile.focus();
      return;
    }
    var data = new FormData();
    data.append("file", file, file.name);
    data.append("folder", importFolder && importFolder.value.trim() ? importFolder.value.trim() : "/");
    importUpload.textContent = "Sending " + file.name + "\u2026";
    send(state.importsUrl, data, function (loaded, total) {
      importUpload.textContent = "Sending " + file.name + ": " + Math.round((loaded / total) * 100) + "%";
    }).then(function (result) {
      if (result.ok && result.data) {
        importUpload.textContent = "The import of " + file.name + " started; its progress shows under Recent imports.";
        importForm.reset();
        upsertJob(result.data);
        if (polling !== null) { pollOnce(); }
      } else {
        importUpload.textContent = "";
        showImportError(result.network ? ["The server could not be reached."] : problemMessages(result.status, result.data));
      }
    });
  });

  function showImportError(messages) {
    window.dlsaas.showErrorList(importError, "The import did not start:", messages);
  }


  connect();
})();
