// Dataset browser, the query model: filters, sorts and the URL query string, the builder rows <-> filter rules
// (the same rules as apps/datasets/forms.py), counts in words and the items query API's answers.
// Pure functions, no page state; static/js/datasets/browser.js wires them to the page.
(function (ns) {
  "use strict";

  var OPS = { is: "$eq", is_not: "$ne", gt: "$gt", gte: "$gte", lt: "$lt", lte: "$lte", contains: "$contains", exists: "$exists" };
  var OPS_BACK = {};
  Object.keys(OPS).forEach(function (key) { OPS_BACK[OPS[key]] = key; });
  var INTEGER_FIELDS = { size: true, width: true, height: true };
  var DEFAULT_SORT = "-created_at";

  // --- Small helpers ------------------------------------------------------------------------

  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }

  function isObject(value) { return value !== null && typeof value === "object" && !Array.isArray(value); }

  function isEmpty(filter) { return isObject(filter) && Object.keys(filter).length === 0; }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": window.dlsaas.csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  // The API's problem+json as sentences; a query error names its path ("filter.size.$gt: expected an integer").
  function problemMessages(result) {
    var data = result.data;
    var out = [];
    if (data && isObject(data.errors)) {
      Object.keys(data.errors).forEach(function (path) {
        var list = Array.isArray(data.errors[path]) ? data.errors[path] : [data.errors[path]];
        list.forEach(function (message) { out.push(path + ": " + String(message)); });
      });
    }
    if (!out.length) {
      out.push(data && data.detail ? String(data.detail) : "The server answered with status " + result.status + ".");
    }
    return out;
  }

  function formatNumber(n) { return Number(n).toLocaleString("en"); }

  function countText(count, exact) {
    if (count === null || count === undefined) { return ""; }
    var noun = count === 1 ? " item" : " items";
    return (exact ? "" : "about ") + formatNumber(count) + noun;
  }

  function combine(filter, folder) {
    if (folder === null || folder === undefined) { return filter; }
    if (isEmpty(filter)) { return { folder: folder }; }
    return { "$and": [filter, { folder: folder }] };
  }

  function sortParam(sort) {
    if (!sort || !sort.length) { return DEFAULT_SORT; }
    if (sort.length === 1 && typeof sort[0] === "string") { return sort[0]; }
    return JSON.stringify(sort);
  }

  function sortFromParam(value) {
    if (!value || value === DEFAULT_SORT) { return []; }
    if (value.charAt(0) === "[") {
      try { var parsed = JSON.parse(value); if (Array.isArray(parsed)) { return parsed; } } catch (e) { /* as text */ }
    }
    return [value];
  }

  function queryString(filter, folder, sort, cursor) {
    var params = new URLSearchParams();
    if (!isEmpty(filter)) { params.set("filter", JSON.stringify(filter)); }
    if (folder !== null && folder !== undefined) { params.set("folder", folder); }
    if (sortParam(sort) !== DEFAULT_SORT) { params.set("sort", sortParam(sort)); }
    if (cursor) { params.set("cursor", cursor); }
    var text = params.toString();
    return text ? "?" + text : "";
  }

  function pretty(filter) { return isEmpty(filter) ? "" : JSON.stringify(filter, null, 2); }

  // --- Builder rows <-> filter (the same rules as apps/datasets/forms.py) ---------------------
  // `fields` is the set of field names the builder offers (the options of its field select).

  function builderValue(field, op, text) {
    text = String(text).trim();
    if (op === "exists") { return ["false", "no", "0"].indexOf(text.toLowerCase()) === -1; }
    if (INTEGER_FIELDS[field]) { return /^[+-]?\d+$/.test(text) ? parseInt(text, 10) : text; }
    if (field === "metadata") {
      try { return JSON.parse(text); } catch (e) { return text; }
    }
    return text;
  }

  function builderText(field, value) {
    if (field === "metadata") {
      if (typeof value === "string") {
        try { JSON.parse(value); } catch (e) { return value; }
      }
      return JSON.stringify(value);
    }
    if (typeof value === "number" && INTEGER_FIELDS[field] && Math.floor(value) === value) { return String(value); }
    return typeof value === "string" ? value : null;
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function filterFromRows(rows, fields) {
    var conditions = [];
    rows.forEach(function (row) {
      if (!has(fields, row.field) || !has(OPS, row.op)) { return; }
      if (row.op !== "exists" && !row.value.trim()) { return; }
      var name = row.field === "metadata" ? "metadata." + row.key.trim() : row.field;
      var condition = {};
      var operator = {};
      operator[OPS[row.op]] = builderValue(row.field, row.op, row.value);
      condition[name] = operator;
      conditions.push(condition);
    });
    if (!conditions.length) { return {}; }
    return conditions.length === 1 ? conditions[0] : { "$and": conditions };
  }

  // The rows that show a filter, or null when it needs the JSON box.
  function rowsFromFilter(filter, fields) {
    if (isEmpty(filter)) { return []; }
    if (!isObject(filter)) { return null; }
    var keys = Object.keys(filter);
    var parts = keys.length === 1 && keys[0] === "$and" && Array.isArray(filter.$and) ? filter.$and : [filter];
    var rows = [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (!isObject(part) || Object.keys(part).length !== 1) { return null; }
      var name = Object.keys(part)[0];
      if (name.charAt(0) === "$") { return null; }
      var condition = part[name];
      var queryOp = "$eq";
      var operand = condition;
      if (isObject(condition)) {
        if (Object.keys(condition).length !== 1) { return null; }
        queryOp = Object.keys(condition)[0];
        operand = condition[queryOp];
      }
      var op = has(OPS_BACK, queryOp) ? OPS_BACK[queryOp] : null;
      var field = name.indexOf("metadata.") === 0 ? "metadata" : name;
      var key = field === "metadata" ? name.slice("metadata.".length) : "";
      if (!op || !has(fields, field)) { return null; }
      var text;
      if (op === "exists") {
        if (typeof operand !== "boolean") { return null; }
        text = operand ? "yes" : "no";
      } else {
        text = builderText(field, operand);
      }
      if (text === null || !same(builderValue(field, op, text), operand)) { return null; }
      rows.push({ field: field, key: key, op: op, value: text });
    }
    return rows;
  }

  ns.query = {
    has: has,
    isObject: isObject,
    isEmpty: isEmpty,
    postJson: postJson,
    problemMessages: problemMessages,
    countText: countText,
    combine: combine,
    sortParam: sortParam,
    sortFromParam: sortFromParam,
    queryString: queryString,
    pretty: pretty,
    filterFromRows: filterFromRows,
    rowsFromFilter: rowsFromFilter
  };
})(window.dlsaasDatasets = window.dlsaasDatasets || {});
