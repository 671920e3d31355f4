// The pinned recipe version as the studio uses it: labels by name, which attributes an object has, their
// defaults, and the checks the server makes (apps/recipes/spec.py attribute_value_error), said the same way,
// so a missing required value is reported before a save is even tried.

import { TYPE_NAMES, ringSelfIntersects } from "./geometry.js";

export class Recipe {
  constructor(spec, versionId = null) {
    this.spec = spec;
    this.versionId = versionId;
    this.labels = {};
    for (const label of spec.labels || []) this.labels[label.name] = label;
    this.itemAttributes = spec.attributes || [];
  }

  label(name) {
    return this.labels[name] || null;
  }

  labelsFor(tool) {
    return (this.spec.labels || []).filter((l) => l.tools.includes(tool));
  }

  /** The attributes an object of this label and type carries (classifications add the item-level ones). */
  attributesFor(labelName, type) {
    const label = this.labels[labelName];
    const own = label ? label.attributes || [] : [];
    if (type !== "classification") return own;
    const names = new Set(own.map((a) => a.name));
    return [...this.itemAttributes.filter((a) => !names.has(a.name)), ...own];
  }

  defaults(labelName, type) {
    const out = {};
    for (const attribute of this.attributesFor(labelName, type)) {
      if (attribute.default !== undefined && attribute.default !== null) out[attribute.name] = attribute.default;
    }
    return out;
  }

  /** Keeps the values that the label (and type) still has: after a relabel. */
  carryAttributes(values, labelName, type) {
    const out = this.defaults(labelName, type);
    const allowed = new Map(this.attributesFor(labelName, type).map((a) => [a.name, a]));
    for (const [name, value] of Object.entries(values || {})) {
      if (allowed.has(name) && valueError(allowed.get(name), value) === null) out[name] = value;
    }
    return out;
  }

  /** Errors the server would answer for this object, keyed like its field errors; null when none. */
  check(obj) {
    // An annotation pinned to another recipe version is checked by the server against that version.
    if (this.versionId !== null && obj.recipe_version !== null && obj.recipe_version !== this.versionId) return null;
    const errors = {};
    const label = this.labels[obj.label];
    if (!label) {
      errors.label = `"${obj.label}" is not a label of this recipe version.`;
      return errors;
    }
    if (!label.tools.includes(obj.type)) {
      errors.type = `${obj.label} may not be drawn as ${TYPE_NAMES[obj.type] || obj.type}.`;
    }
    const strict = (obj.source || "human") === "human" && obj.review_state !== "proposed";
    for (const attribute of this.attributesFor(obj.label, obj.type)) {
      const value = (obj.attributes || {})[attribute.name];
      if (value === undefined || value === null || value === "") {
        if (attribute.required && strict && attribute.default === undefined) {
          errors[`attributes.${attribute.name}`] = `${attribute.name} is required.`;
        }
        continue;
      }
      const problem = valueError(attribute, value);
      if (problem) errors[`attributes.${attribute.name}`] = `${attribute.name}: ${problem}`;
    }
    if (obj.type === "polygon" && obj.geometry) {
      if (ringSelfIntersects(obj.geometry.exterior)) errors["geometry.exterior"] = "The outline crosses itself.";
      (obj.geometry.holes || []).forEach((hole, i) => {
        if (ringSelfIntersects(hole)) errors[`geometry.holes.${i}`] = `Hole ${i + 1} crosses itself.`;
      });
    }
    return Object.keys(errors).length ? errors : null;
  }
}

export function valueError(attribute, value) {
  switch (attribute.type) {
    case "boolean": return typeof value === "boolean" ? null : "Must be true or false.";
    case "text": return typeof value === "string" && value.length <= 10000 ? null : "At most 10000 characters.";
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) return "Must be a finite number.";
      if (attribute.min !== null && attribute.min !== undefined && value < attribute.min) return `Must be at least ${attribute.min}.`;
      if (attribute.max !== null && attribute.max !== undefined && value > attribute.max) return `Must be at most ${attribute.max}.`;
      return null;
    case "enum": return attribute.options.includes(value) ? null : `Must be one of: ${attribute.options.join(", ")}.`;
    case "multi_enum":
      if (!Array.isArray(value)) return "Must be a list of options.";
      return value.every((v) => attribute.options.includes(v)) ? null : "Not an option.";
    default: return "Unknown attribute type.";
  }
}
