// The task creation wizard: a live count of the items the query selects (POST the dataset's items/query/ with
// page_size 1: it answers a count), and the recipe version a dataset pins by default. Server answers are shown as
// text only.
(function () {
  "use strict";

  var form = document.getElementById("task-wizard");
  var dataEl = document.getElementById("wizard-data");
  if (!form || !dataEl) { return; }
  var config = JSON.parse(dataEl.textContent);
  var dataset = document.getElementById("id_dataset");
  var version = document.getElementById("id_recipe_version");
  var query = document.getElementById("id_query");
  var preview = document.getElementById("query-preview");
  var defaultOption = version ? version.querySelector('option[value=""]') : null;
  var defaultText = defaultOption ? defaultOption.textContent : "";
  var timer = null;
  var seq = 0;

  function say(state, text) {
    preview.dataset.state = state;
    preview.textContent = text;
  }

  function showDefaultVersion() {
    if (!defaultOption) { return; }
    var pinned = config.default_versions[dataset.value];
    var option = pinned ? version.querySelector('option[value="' + String(pinned) + '"]') : null;
    defaultOption.textContent = option ? defaultText + ": " + option.textContent
      : dataset.value ? "The dataset has no published recipe: choose a version" : defaultText;
  }

  function count() {
    var mine = ++seq;
    if (!dataset.value) { say("idle", "Choose a dataset to see how many items the task will cover."); return; }
    var filter;
    try {
      filter = JSON.parse(query.value.trim() || "{}");
    } catch (e) {
      say("error", "The query is not JSON yet: " + e.message);
      return;
    }
    say("loading", "Counting the matching items…");
    fetch(config.query_url.replace("{id}", encodeURIComponent(dataset.value)), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": window.dlsaas.csrfToken() },
      body: JSON.stringify({ filter: filter, page_size: 1 })
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      if (mine !== seq) { return; }
      var body = result.body || {};
      if (result.status === 200) {
        var n = body.count;
        var exact = body.count_exact !== false;
        say("ok", (exact ? "" : "About ") + n + " item" + (n === 1 ? "" : "s") + " match: the task will have " + n + " item" + (n === 1 ? "" : "s") + " per consensus slot.");
      } else if (body.errors && typeof body.errors === "object") {
        var words = [];
        Object.keys(body.errors).forEach(function (path) { words.push(path + ": " + [].concat(body.errors[path]).join(" ")); });
        say("error", "The query is not valid: " + words.join("; "));
      } else {
        say("error", "No count: " + (body.detail || "the server answered " + result.status) + ".");
      }
    }).catch(function () {
      if (mine === seq) { say("error", "No count: the server could not be reached."); }
    });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(count, 400);
  }

  dataset.addEventListener("change", function () { showDefaultVersion(); count(); });
  query.addEventListener("input", later);
  showDefaultVersion();
  count();
})();
