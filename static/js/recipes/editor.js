// Recipe editor: edits the draft (labels, attributes, skeletons, instructions, review settings) and saves the whole
// document with PATCH /api/v1/recipes/<id>/; publishes with a migration map built from the labels that disappear;
// previews and applies the label migration with live progress (websocket /ws/o/<slug>/recipes/, or asking
// GET /api/v1/label-migrations/<id>/ every second). The server validates everything: its errors come back keyed by
// dotted path ("labels.2.hotkey", "migration.0.to") and are shown next to the input that path names.
// Names and messages only ever go through textContent; the instructions' HTML is cleaned here and on the server.
//
// This file starts it, loaded last: the parts before it (dom.js explains how they fit) only define functions.
// It reads the page's state (json_script "recipe-state"), fills the shared context, binds each part and renders.
(function (R) {
  "use strict";

  var stateEl = document.getElementById("recipe-state");
  if (!stateEl || !window.fetch || !("content" in document.createElement("template"))) { return; }
  var state;
  try { state = JSON.parse(stateEl.textContent); } catch (e) { return; }

  var ctx = R.ctx;
  ctx.state = state;
  ctx.tools = state.tools;
  ctx.types = state.attributeTypes;
  ctx.palette = state.palette;
  ctx.defaultTools = ctx.tools.filter(function (t) { return t !== "classification" && t !== "keypoints"; });
  ctx.csrfToken = window.dlsaas.csrfToken;
  ctx.model = null;

  R.instructions.bind();
  R.labels.bind();
  R.save.bind();
  R.publish.bind();
  R.migration.bind();

  R.save.loadRecipe(state.recipe);
  document.getElementById("recipe-summary").hidden = true;
  document.getElementById("recipe-editor").hidden = false;
  document.getElementById("save-status").textContent = "";
  if (state.previous && state.previous.number > 1) {
    R.migration.previewPending(state.previous.number);
  }
})(window.dlsaasRecipes);
