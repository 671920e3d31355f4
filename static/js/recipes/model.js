// Recipe editor, the model: the draft as the editor holds it (each field as typed, a uid per label and attribute that
// names its inputs for focus), made from the recipe the API returns, and turned back into the document the API takes.
(function (R) {
  "use strict";

  var ctx = R.ctx;
  var splitList = R.dom.splitList;

  var uidCounter = 0;
  function uid() { uidCounter += 1; return "u" + uidCounter; }

  function attributeModel(raw) {
    raw = raw || {};
    return {
      uid: uid(), name: raw.name || "", type: ctx.types.indexOf(raw.type) >= 0 ? raw.type : "enum", required: !!raw.required,
      options: Array.isArray(raw.options) ? raw.options.join(", ") : "",
      min: raw.min === null || raw.min === undefined ? "" : String(raw.min),
      max: raw.max === null || raw.max === undefined ? "" : String(raw.max),
      "default": raw["default"] === null || raw["default"] === undefined ? ""
        : Array.isArray(raw["default"]) ? raw["default"].join(", ") : String(raw["default"]),
      description: raw.description || ""
    };
  }

  function labelModel(raw, index) {
    raw = raw || {};
    var skeleton = raw.skeleton && Array.isArray(raw.skeleton.points) ? {
      points: raw.skeleton.points.map(String),
      edges: (raw.skeleton.edges || []).map(function (e) { return [Number(e[0]), Number(e[1])]; })
    } : null;
    return {
      uid: uid(), name: raw.name || "", committedName: raw.name || "",
      color: raw.color || ctx.palette[index % ctx.palette.length], hotkey: raw.hotkey || "", parent: raw.parent || "",
      tools: Array.isArray(raw.tools) ? raw.tools.slice() : ctx.defaultTools.slice(),
      attributes: (raw.attributes || []).map(attributeModel), skeleton: skeleton, description: raw.description || ""
    };
  }

  function modelFrom(recipe) {
    var spec = recipe.draft || {};
    var review = spec.review || {};
    return {
      name: recipe.name || "", description: recipe.description || "",
      labels: (spec.labels || []).map(labelModel),
      attributes: (spec.attributes || []).map(attributeModel),
      instructions: spec.instructions || "",
      review: {
        required: !!review.required, ratio: review.sample_ratio === undefined ? "0" : String(review.sample_ratio),
        reasons: (review.reject_reasons || []).join("\n")
      }
    };
  }

  function numberOrText(text) {
    var n = Number(text);
    return text.trim() !== "" && isFinite(n) ? n : text;
  }

  function attributeSpec(a) {
    var out = { name: a.name.trim(), type: a.type, required: a.required };
    if (a.type === "enum" || a.type === "multi_enum") { out.options = splitList(a.options, ","); }
    if (a.type === "number") {
      if (a.min.trim() !== "") { out.min = numberOrText(a.min); }
      if (a.max.trim() !== "") { out.max = numberOrText(a.max); }
    }
    var d = a["default"].trim();
    if (d !== "") {
      if (a.type === "boolean") { out["default"] = d === "true" ? true : d === "false" ? false : d; }
      else if (a.type === "number") { out["default"] = numberOrText(d); }
      else if (a.type === "multi_enum") { out["default"] = splitList(d, ","); }
      else { out["default"] = a["default"]; }
    }
    if (a.description) { out.description = a.description; }
    return out;
  }

  function specOf(m) {
    var ratio = m.review.ratio.trim() === "" ? 0 : numberOrText(m.review.ratio);
    return {
      labels: m.labels.map(function (lab) {
        var out = {
          name: lab.name.trim(), color: lab.color, hotkey: lab.hotkey.trim() || null, parent: lab.parent || null,
          tools: ctx.tools.filter(function (t) { return lab.tools.indexOf(t) >= 0; }),
          attributes: lab.attributes.map(attributeSpec)
        };
        if (lab.skeleton && (lab.skeleton.points.length || lab.skeleton.edges.length)) {
          out.skeleton = { points: lab.skeleton.points.map(function (p) { return p.trim(); }), edges: lab.skeleton.edges };
        }
        if (lab.description) { out.description = lab.description; }
        return out;
      }),
      attributes: m.attributes.map(attributeSpec),
      instructions: m.instructions,
      review: { required: m.review.required, sample_ratio: ratio, reject_reasons: splitList(m.review.reasons, "\n") }
    };
  }

  // What PATCH /api/v1/recipes/<id>/ takes for the draft being edited.
  function payload() {
    return { name: ctx.model.name, description: ctx.model.description, spec: specOf(ctx.model) };
  }

  R.model = { attributeModel: attributeModel, labelModel: labelModel, modelFrom: modelFrom, specOf: specOf, payload: payload };
})(window.dlsaasRecipes);
