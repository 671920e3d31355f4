// Recipe editor, saving: the API call, whether the draft has unsaved changes, saving it with
// PATCH /api/v1/recipes/<id>/ (the button, Ctrl+S, or before publishing), loading what the server answers back into
// the editor, and the Advanced form that saves the whole draft as one JSON document.
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var el = R.dom.el;
  var errors = R.errors;

  // The page's elements, from bind().
  var editor, saveButton, saveStatus, saveErrors;
  var jsonForm, jsonDetails, jsonName, jsonDescription, jsonSpec, jsonRefresh, jsonErrors;

  var savedJson = null;
  var saving = null;

  function isDirty() { return JSON.stringify(R.model.payload()) !== savedJson; }

  function changed() {
    saveStatus.textContent = isDirty() ? "Unsaved changes." : "All changes saved.";
  }

  // Same-origin JSON call; resolves {ok, status, data} (status 0 when the server could not be reached).
  function api(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = ctx.csrfToken();
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        return { ok: response.ok, status: response.status, data: R.dom.parseJson(text) };
      });
    }, function () { return { ok: false, status: 0, data: null }; });
  }

  function loadRecipe(recipe) {
    ctx.state.recipe.draft = recipe.draft;
    ctx.model = R.model.modelFrom(recipe);
    savedJson = JSON.stringify(R.model.payload());
    R.labels.fillStatic();
    R.labels.render();
    document.getElementById("recipe-title").textContent = recipe.name;
    var crumb = document.querySelector(".breadcrumbs [aria-current='page']");
    if (crumb) { crumb.textContent = recipe.name; }
  }

  // Saves the editor's draft; resolves true when it is saved (or nothing changed).
  function save() {
    if (saving) { return saving; }
    if (!isDirty()) {
      saveStatus.textContent = "All changes saved.";
      return Promise.resolve(true);
    }
    saveButton.disabled = true;
    saveStatus.textContent = "Saving\u2026";
    saving = api("PATCH", ctx.state.urls.recipe, R.model.payload()).then(function (result) {
      saving = null;
      saveButton.disabled = false;
      if (result.ok && result.data) {
        saveErrors.hidden = true;
        loadRecipe(result.data);
        saveStatus.textContent = "Saved at " + new Date().toLocaleTimeString() + ".";
        return true;
      }
      saveStatus.textContent = "Not saved.";
      errors.showErrors(editor, saveErrors, "The draft was not saved. Correct what is marked:", errors.errorMessages(result.status, result.data), errors.describePath);
      return false;
    });
    return saving;
  }

  // --- Advanced: the draft as JSON ----------------------------------------------------------------

  function fillJson() {
    jsonName.value = ctx.model.name;
    jsonDescription.value = ctx.model.description;
    jsonSpec.value = JSON.stringify(R.model.specOf(ctx.model), null, 2);
  }

  function bindJson() {
    jsonForm = document.getElementById("json-form");
    jsonDetails = document.getElementById("advanced-json");
    jsonName = document.getElementById("json_name");
    jsonDescription = document.getElementById("json_description");
    jsonSpec = document.getElementById("json_spec");
    jsonRefresh = document.getElementById("json-refresh");
    jsonErrors = el("div", { className: "form-errors", role: "alert", tabindex: "-1", hidden: true, id: "json-errors" });
    jsonForm.insertBefore(jsonErrors, jsonForm.firstChild);

    jsonRefresh.hidden = false;
    jsonRefresh.addEventListener("click", fillJson);
    jsonDetails.addEventListener("toggle", function () { if (jsonDetails.open) { fillJson(); } });

    jsonForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var spec;
      try { spec = JSON.parse(jsonSpec.value); } catch (e) {
        errors.showErrors(jsonForm, jsonErrors, "The draft was not saved:", [{ path: "spec", message: "This is not JSON: " + e.message }], String);
        return;
      }
      api("PATCH", ctx.state.urls.recipe, { name: jsonName.value, description: jsonDescription.value, spec: spec }).then(function (result) {
        if (result.ok && result.data) {
          jsonErrors.hidden = true;
          errors.clearFieldErrors(jsonForm);
          loadRecipe(result.data);
          fillJson();
          saveStatus.textContent = "Saved from JSON at " + new Date().toLocaleTimeString() + ".";
          jsonErrors.hidden = false;
          jsonErrors.className = "message message-success";
          jsonErrors.textContent = "Saved. The editor above shows the new draft.";
          return;
        }
        jsonErrors.className = "form-errors";
        // Paths name places in the document; the form has one box for all of it.
        var shown = errors.errorMessages(result.status, result.data).map(function (e) {
          return { path: e.path === "name" || e.path === "description" ? e.path : e.path ? "spec" : null,
            message: e.path && e.path !== "name" && e.path !== "description" ? e.path + ": " + e.message : e.message };
        });
        errors.showErrors(jsonForm, jsonErrors, "The draft was not saved:", shown, function () { return ""; });
      });
    });
    jsonName.setAttribute("data-path", "name");
    jsonDescription.setAttribute("data-path", "description");
    jsonSpec.setAttribute("data-path", "spec");
  }

  function bind() {
    editor = document.getElementById("recipe-editor");
    saveButton = document.getElementById("save-draft");
    saveStatus = document.getElementById("save-status");
    saveErrors = document.getElementById("save-errors");

    window.addEventListener("beforeunload", function (event) {
      if (isDirty()) { event.preventDefault(); event.returnValue = ""; }
    });

    saveButton.addEventListener("click", function () { save(); });
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
        event.preventDefault();
        save();
      }
    });

    bindJson();
  }

  R.save = { bind: bind, api: api, isDirty: isDirty, changed: changed, loadRecipe: loadRecipe, save: save };
})(window.dlsaasRecipes);
