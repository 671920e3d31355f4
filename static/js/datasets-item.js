// Item page: shows a text item's first megabyte as text (fetched with a Range request and put in place with
// textContent, so markup in it is only ever characters), and says so in words when a preview cannot load.
(function () {
  "use strict";

  var MAX_BYTES = 1024 * 1024;

  var image = document.getElementById("preview-image");
  if (image) {
    var failed = function () {
      var note = document.createElement("p");
      note.className = "form-errors";
      note.setAttribute("role", "alert");
      note.textContent = "The image could not be shown. Download it to open it with another program.";
      image.replaceWith(note);
    };
    if (image.complete && image.naturalWidth === 0) { failed(); } else { image.addEventListener("error", failed); }
  }

  ["preview-audio", "preview-video"].forEach(function (id) {
    var media = document.getElementById(id);
    if (!media) { return; }
    media.addEventListener("error", function () {
      var note = document.createElement("p");
      note.className = "form-errors";
      note.setAttribute("role", "alert");
      note.textContent = "Your browser cannot play this file. Download it to open it with another program.";
      media.after(note);
    });
  });

  var pre = document.getElementById("text-preview");
  var status = document.getElementById("text-preview-status");
  if (!pre || !window.fetch || !window.TextDecoder) { return; }

  function say(text) { if (status) { status.textContent = text; } }

  function totalFrom(response) {
    var range = response.headers.get("Content-Range");
    var match = range && range.match(/\/(\d+)\s*$/);
    if (match) { return Number(match[1]); }
    var length = response.headers.get("Content-Length");
    return length ? Number(length) : null;
  }

  // Reads at most MAX_BYTES even if a server were to ignore the Range header.
  function readCapped(response) {
    if (!response.body || !response.body.getReader) {
      return response.arrayBuffer().then(function (buffer) { return new Uint8Array(buffer.slice(0, MAX_BYTES)); });
    }
    var reader = response.body.getReader();
    var chunks = [];
    var received = 0;
    function pump() {
      return reader.read().then(function (step) {
        if (step.done) { return; }
        var room = MAX_BYTES - received;
        chunks.push(step.value.length > room ? step.value.subarray(0, room) : step.value);
        received += Math.min(step.value.length, room);
        if (received >= MAX_BYTES) { return reader.cancel().catch(function () {}); }
        return pump();
      });
    }
    return pump().then(function () {
      var out = new Uint8Array(received);
      var offset = 0;
      chunks.forEach(function (chunk) { out.set(chunk, offset); offset += chunk.length; });
      return out;
    });
  }

  say("Loading the text\u2026");
  fetch(pre.dataset.src, {
    credentials: "same-origin",
    headers: { "Range": "bytes=0-" + (MAX_BYTES - 1) }
  }).then(function (response) {
    if (!response.ok) {
      say(response.status === 409 ? "This item has no content yet." : "The text could not be loaded (status " + response.status + ").");
      return null;
    }
    var total = totalFrom(response);
    return readCapped(response).then(function (bytes) {
      pre.textContent = new TextDecoder("utf-8").decode(bytes);
      pre.hidden = false;
      if (total !== null && total > bytes.length) {
        say("Showing the first " + Math.round(bytes.length / 1024) + " KB of " + Math.round(total / 1024) + " KB; download the file for the rest.");
      } else {
        say("");
      }
    });
  }).catch(function () {
    say("The text could not be loaded: the server could not be reached.");
  });
})();
