// Dataset browser: endless scroll over the items query API (keyset cursor), the filter builder and its JSON
// box, the folder sidebar, selection and the delete confirmation.
//
// Item names and metadata are hostile: they only ever reach the page through textContent, value or the href/src
// this script builds itself, never innerHTML. Without this script the page still works: the server renders one
// page, the filter form is a GET form, "Load more" is a link and bulk actions post a form with a confirm page.
(function () {
  "use strict";

  var root = document.getElementById("browser");
  var stateEl = document.getElementById("browser-state");
  if (!root || !stateEl || !window.fetch || !("content" in document.createElement("template"))) {
    return;
  }
  var state;
  try { state = JSON.parse(stateEl.textContent); } catch (e) { return; }

  var grid = document.getElementById("item-grid");
  var tileTemplate = document.getElementById("tile-template");
  var rowTemplate = document.getElementById("builder-row-template");
  var rowsList = document.getElementById("builder-rows");
  var filterForm = document.getElementById("filter-form");
  var filterJson = document.getElementById("filter-json");
  var filterError = document.getElementById("filter-error");
  var builderNote = document.getElementById("builder-note");
  var advanced = document.getElementById("advanced");
  var sortSelect = document.getElementById("sort-select");
  var addCondition = document.getElementById("add-condition");
  var countEl = document.getElementById("result-count");
  var loadMore = document.getElementById("load-more");
  var firstPage = document.getElementById("first-page");
  var gridStatus = document.getElementById("grid-status");
  var gridEmpty = document.getElementById("grid-empty");
  var folderList = document.getElementById("folder-list");
  var bulkForm = document.getElementById("bulk-form");

  var OPS = { is: "$eq", is_not: "$ne", gt: "$gt", gte: "$gte", lt: "$lt", lte: "$lte", contains: "$contains", exists: "$exists" };
  var OPS_BACK = {};
  Object.keys(OPS).forEach(function (key) { OPS_BACK[OPS[key]] = key; });
  var INTEGER_FIELDS = { size: true, width: true, height: true };
  var DEFAULT_SORT = "-created_at";
  var FIELDS = optionValues(rowTemplate.content.querySelector("[data-role=field]"));
  var KIND_LABELS = optionLabels("kind-values");
  var STATUS_LABELS = optionLabels("status-values");

  var loading = false;
  var generation = 0; // bumped by every new query, so a late page of an old query is dropped
  var lastSubmitter = null;

  // --- Small helpers ------------------------------------------------------------------------

  function optionValues(select) {
    var out = {};
    if (select) { Array.prototype.forEach.call(select.options, function (o) { out[o.value] = true; }); }
    return out;
  }

  function optionLabels(id) {
    var out = {};
    var list = document.getElementById(id);
    if (list) { Array.prototype.forEach.call(list.options, function (o) { out[o.value] = o.textContent; }); }
    return out;
  }

  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }

  function isObject(value) { return value !== null && typeof value === "object" && !Array.isArray(value); }

  function isEmpty(filter) { return isObject(filter) && Object.keys(filter).length === 0; }

  var csrfToken = window.dlsaas.csrfToken;

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
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

  function formatSize(bytes) {
    if (bytes === null || bytes === undefined) { return ""; }
    if (bytes < 1024) { return bytes + (bytes === 1 ? " byte" : " bytes"); }
    var units = ["KB", "MB", "GB", "TB", "PB"];
    var value = bytes;
    var unit = -1;
    do { value /= 1024; unit += 1; } while (value >= 1024 && unit < units.length - 1);
    return value.toFixed(1) + "\u00a0" + units[unit];
  }

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

  function itemUrl(id) {
    return state.itemUrl.replace(/\/0\/$/, "/" + encodeURIComponent(String(id)) + "/");
  }

  // --- Builder rows <-> filter (the same rules as apps/datasets/forms.py) ---------------------

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

  function filterFromRows(rows) {
    var conditions = [];
    rows.forEach(function (row) {
      if (!has(FIELDS, row.field) || !has(OPS, row.op)) { return; }
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
  function rowsFromFilter(filter) {
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
      if (!op || !has(FIELDS, field)) { return null; }
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

  function rowElements() { return Array.prototype.slice.call(rowsList.querySelectorAll("[data-row]")); }

  function readRows() {
    return rowElements().map(function (li) {
      return {
        field: li.querySelector("[data-role=field]").value,
        key: li.querySelector("[data-role=key]").value,
        op: li.querySelector("[data-role=op]").value,
        value: li.querySelector("[data-role=value]").value
      };
    });
  }

  function fitRow(li) {
    var field = li.querySelector("[data-role=field]").value;
    var op = li.querySelector("[data-role=op]").value;
    var keyWrap = li.querySelector("[data-role=key-wrap]");
    var value = li.querySelector("[data-role=value]");
    keyWrap.hidden = field !== "metadata";
    li.classList.toggle("no-key", field !== "metadata");
    if (field === "kind") { value.setAttribute("list", "kind-values"); }
    else if (field === "status") { value.setAttribute("list", "status-values"); }
    else { value.removeAttribute("list"); }
    value.placeholder = op === "exists" ? "yes or no" : field === "created_at" ? "2024-05-01T12:00:00Z" : "value";
    li.querySelector("[data-role=remove]").hidden = false;
  }

  function renumber() {
    rowElements().forEach(function (li, index) {
      var n = index + 1;
      ["field", "key", "op", "value"].forEach(function (role) {
        var control = li.querySelector("[data-role=" + role + "]");
        var label = li.querySelector("label[for='" + control.id + "']");
        control.id = "cond-" + n + "-" + role;
        if (label) { label.htmlFor = control.id; }
      });
      li.querySelectorAll(".row-number").forEach(function (el) { el.textContent = String(n); });
    });
  }

  function addRow(row) {
    var li = rowTemplate.content.firstElementChild.cloneNode(true);
    if (row) {
      li.querySelector("[data-role=field]").value = row.field;
      li.querySelector("[data-role=key]").value = row.key;
      li.querySelector("[data-role=op]").value = row.op;
      li.querySelector("[data-role=value]").value = row.value;
    }
    rowsList.appendChild(li);
    fitRow(li);
    renumber();
    return li;
  }

  function setRows(rows) {
    rowsList.textContent = "";
    (rows && rows.length ? rows : [null]).forEach(function (row) { addRow(row); });
  }

  function pretty(filter) { return isEmpty(filter) ? "" : JSON.stringify(filter, null, 2); }

  function showNote(text) {
    builderNote.textContent = text;
    builderNote.hidden = !text;
  }

  // --- Errors and counts --------------------------------------------------------------------

  function showErrors(messages) {
    window.dlsaas.showErrorList(filterError, "The filter was not applied:", messages);
  }


  function hideErrors() {
    filterError.hidden = true;
    filterError.textContent = "";
  }

  function updateCount() {
    var text = countText(state.count, state.countExact);
    countEl.textContent = text ? text + (state.folder !== null && state.folder !== undefined ? " in " + state.folder : "") : "";
    var matching = document.getElementById("matching-count");
    if (matching) { matching.textContent = text || "items"; }
  }

  // --- Tiles --------------------------------------------------------------------------------

  function placeholderFor(kind) {
    var tile = tileTemplate.content.querySelector(".tile-placeholder").cloneNode(true);
    tile.querySelector(".tile-kind").textContent = has(KIND_LABELS, kind) ? KIND_LABELS[kind] : String(kind || "");
    return tile;
  }

  function makeTile(item) {
    var li = tileTemplate.content.firstElementChild.cloneNode(true);
    li.dataset.itemId = String(item.id);
    li.dataset.kind = String(item.kind || "");
    li.querySelector(".tile-link").href = itemUrl(item.id);
    li.querySelector(".tile-name").textContent = item.name;
    var label = li.querySelector(".tile-name-label");
    if (label) { label.textContent = item.name; }
    var box = li.querySelector(".tile-checkbox");
    if (box) { box.value = String(item.id); }
    var thumb = li.querySelector(".tile-thumb");
    thumb.textContent = "";
    var url = typeof item.thumbnail_url === "string" && item.thumbnail_url.indexOf("/api/v1/items/") === 0 ? item.thumbnail_url : null;
    if (url) {
      var img = document.createElement("img");
      img.alt = "";
      img.loading = "lazy";
      img.decoding = "async";
      img.width = 256;
      img.height = 256;
      img.src = url;
      thumb.appendChild(img);
    } else {
      thumb.appendChild(placeholderFor(item.kind));
    }
    var facts = [has(KIND_LABELS, item.kind) ? KIND_LABELS[item.kind] : String(item.kind || "")];
    if (item.size !== null && item.size !== undefined) { facts.push(formatSize(item.size)); }
    if (item.width && item.height) { facts.push(item.width + "\u00d7" + item.height); }
    var factsEl = li.querySelector(".tile-facts");
    factsEl.textContent = facts.join(" \u00b7 ");
    if (item.status && item.status !== "ready") {
      var status = document.createElement("span");
      status.className = "tile-status";
      status.textContent = has(STATUS_LABELS, item.status) ? STATUS_LABELS[item.status] : String(item.status);
      factsEl.appendChild(document.createTextNode(" \u00b7 "));
      factsEl.appendChild(status);
    }
    return li;
  }

  function appendTiles(items) {
    var fragment = document.createDocumentFragment();
    (items || []).forEach(function (item) {
      if (isObject(item) && item.id !== undefined) { fragment.appendChild(makeTile(item)); }
    });
    var added = fragment.childNodes.length;
    grid.appendChild(fragment);
    return added;
  }

  // A thumbnail that fails to load (removed, not made yet) shows the kind instead.
  function thumbnailFailed(img) {
    var tile = img.closest(".tile");
    var thumb = img.parentNode;
    if (!tile || !thumb) { return; }
    thumb.replaceChild(placeholderFor(tile.dataset.kind || ""), img);
  }

  grid.addEventListener("error", function (event) {
    if (event.target && event.target.tagName === "IMG") { thumbnailFailed(event.target); }
  }, true);

  // --- Footer, URL, forms, folders ----------------------------------------------------------

  function updateFooter() {
    var hasTiles = grid.children.length > 0;
    loadMore.hidden = !state.nextCursor;
    loadMore.href = state.nextCursor
      ? state.browserUrl + queryString(state.filter, state.folder, state.sort, state.nextCursor)
      : "#";
    gridEmpty.hidden = hasTiles;
    if (!state.nextCursor && hasTiles) { gridStatus.textContent = "That is all."; }
    observe();
  }

  function syncForms() {
    var effective = JSON.stringify(state.effectiveFilter);
    var back = queryString(state.filter, state.folder, state.sort, null);
    document.querySelectorAll("[data-state=effective-filter]").forEach(function (input) { input.value = effective; });
    document.querySelectorAll("[data-state=sort]").forEach(function (input) { input.value = sortParam(state.sort); });
    document.querySelectorAll("[data-state=back]").forEach(function (input) { input.value = back; });
    var folderInput = document.getElementById("folder-input");
    if (folderInput) { folderInput.remove(); }
  }

  function markFolders() {
    folderList.querySelectorAll("a[data-folder]").forEach(function (link) {
      var folder = link.dataset.folder === "" ? null : link.dataset.folder;
      link.href = state.browserUrl + queryString(state.filter, folder, state.sort, null);
      if (folder === (state.folder === undefined ? null : state.folder)) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    });
  }

  // --- Queries ------------------------------------------------------------------------------

  function networkError(mine) {
    return function () {
      if (mine !== generation) { return; }
      loading = false;
      root.removeAttribute("aria-busy");
      gridStatus.textContent = "";
      showErrors(["The server could not be reached. Check your connection and try again."]);
    };
  }

  function run(filter, folder, sort) {
    var effective = combine(filter, folder);
    var mine = ++generation;
    loading = false;
    root.setAttribute("aria-busy", "true");
    gridStatus.textContent = "Loading\u2026";
    return postJson(state.queryUrl, { filter: effective, sort: sort, page_size: state.pageSize, count: true })
      .then(function (result) {
        if (mine !== generation) { return; }
        root.removeAttribute("aria-busy");
        gridStatus.textContent = "";
        if (!result.ok || !result.data) {
          showErrors(problemMessages(result));
          return;
        }
        hideErrors();
        state.filter = filter;
        state.folder = folder;
        state.sort = sort;
        state.effectiveFilter = effective;
        state.nextCursor = result.data.next_cursor || null;
        state.count = result.data.count;
        state.countExact = !!result.data.count_exact;
        grid.textContent = "";
        appendTiles(result.data.results);
        updateSelection();
        updateCount();
        updateFooter();
        syncForms();
        markFolders();
        if (firstPage) { firstPage.hidden = true; }
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", state.browserUrl + queryString(filter, folder, sort, null));
        }
      }, networkError(mine));
  }

  function loadMoreItems() {
    if (loading || !state.nextCursor) { return; }
    loading = true;
    var mine = generation;
    gridStatus.textContent = "Loading more items\u2026";
    postJson(state.queryUrl, {
      filter: state.effectiveFilter, sort: state.sort, page_size: state.pageSize, cursor: state.nextCursor, count: false
    }).then(function (result) {
      if (mine !== generation) { return; }
      loading = false;
      if (!result.ok || !result.data) {
        gridStatus.textContent = problemMessages(result).join(" ");
        return;
      }
      var added = appendTiles(result.data.results);
      state.nextCursor = result.data.next_cursor || null;
      gridStatus.textContent = added + (added === 1 ? " more item loaded." : " more items loaded.");
      updateSelection();
      updateFooter();
    }, function () {
      if (mine !== generation) { return; }
      loading = false;
      gridStatus.textContent = "The server could not be reached; choose Load more to try again.";
    });
  }

  // Endless scroll: the "Load more" link is also the sentinel. Observing it again after each page makes the
  // observer report at once when it is still in view (a short page on a tall screen).
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting && !loadMore.hidden) { loadMoreItems(); }
    });
  }, { rootMargin: "600px 0px" }) : null;

  function observe() {
    if (!observer) { return; }
    observer.disconnect();
    if (!loadMore.hidden) { observer.observe(loadMore); }
  }

  loadMore.addEventListener("click", function (event) {
    event.preventDefault();
    loadMoreItems();
  });

  // --- The filter form ----------------------------------------------------------------------

  filterForm.addEventListener("click", function (event) {
    var button = event.target.closest("button[type=submit]");
    if (button) { lastSubmitter = button; }
  });

  filterForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var submitter = event.submitter || lastSubmitter;
    lastSubmitter = null;
    var sort = sortFromParam(sortSelect.value);
    if (submitter && submitter.value === "json") {
      var text = filterJson.value.trim();
      var filter = {};
      if (text) {
        try { filter = JSON.parse(text); } catch (e) {
          showErrors(["The filter is not valid JSON: " + e.message + "."]);
          filterJson.focus();
          return;
        }
      }
      var rows = rowsFromFilter(filter);
      setRows(rows || []);
      showNote(rows === null ? "This filter is more than the rows above can show: edit it as JSON under \u201cAdvanced\u201d." : "");
      run(filter, state.folder, sort);
      return;
    }
    var built = filterFromRows(readRows());
    filterJson.value = pretty(built);
    showNote("");
    run(built, state.folder, sort);
  });

  rowsList.addEventListener("change", function (event) {
    var li = event.target.closest("[data-row]");
    if (li) { fitRow(li); }
  });

  // The JSON box follows the rows as they are edited, so it always shows what "Apply filter" sends.
  rowsList.addEventListener("input", function () {
    if (builderNote.hidden) { filterJson.value = pretty(filterFromRows(readRows())); }
  });

  rowsList.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-role=remove]");
    if (!remove) { return; }
    var li = remove.closest("[data-row]");
    var next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    if (!rowElements().length) { next = addRow(null); }
    renumber();
    if (builderNote.hidden) { filterJson.value = pretty(filterFromRows(readRows())); }
    next.querySelector("[data-role=field]").focus();
  });

  addCondition.hidden = false;
  addCondition.addEventListener("click", function () {
    addRow(null).querySelector("[data-role=field]").focus();
  });

  sortSelect.addEventListener("change", function () {
    run(state.filter, state.folder, sortFromParam(sortSelect.value));
  });

  folderList.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-folder]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey || event.button !== 0) { return; }
    event.preventDefault();
    run(state.filter, link.dataset.folder === "" ? null : link.dataset.folder, state.sort);
  });

  rowElements().forEach(fitRow);
  if (advanced && !builderNote.hidden) { advanced.open = true; }

  // --- Selection and bulk actions -----------------------------------------------------------

  function selectedBoxes() { return grid.querySelectorAll(".tile-checkbox:checked"); }

  function updateSelection() {
    if (!bulkForm) { return; }
    var n = selectedBoxes().length;
    var matching = bulkForm.querySelector("input[name=target][value=matching]").checked;
    var text = document.getElementById("selection-count");
    if (matching) {
      text.textContent = "All " + (countText(state.count, state.countExact) || "items") + " matching the filter will change.";
    } else {
      text.textContent = n ? n + (n === 1 ? " item selected." : " items selected.") : "Tick items to select them.";
    }
    document.getElementById("clear-selection").hidden = n === 0;
  }

  if (bulkForm) {
    var selectShown = document.getElementById("select-shown");
    var clearSelection = document.getElementById("clear-selection");
    var actionSelect = document.getElementById("bulk_action");
    var confirmBox = document.getElementById("bulk-confirm");
    var confirmText = document.getElementById("bulk-confirm-text");
    var confirmInput = document.getElementById("bulk-confirm-input");
    var confirmYes = document.getElementById("bulk-confirm-yes");
    var confirmNo = document.getElementById("bulk-confirm-no");
    var applyButton = document.getElementById("bulk-apply");

    var fitAction = function () {
      bulkForm.querySelectorAll("[data-for-action]").forEach(function (el) {
        el.hidden = el.dataset.forAction !== actionSelect.value;
      });
      confirmBox.hidden = true;
    };

    selectShown.hidden = false;
    selectShown.addEventListener("click", function () {
      grid.querySelectorAll(".tile-checkbox").forEach(function (box) { box.checked = true; });
      bulkForm.querySelector("input[name=target][value=selected]").checked = true;
      updateSelection();
    });
    clearSelection.addEventListener("click", function () {
      grid.querySelectorAll(".tile-checkbox").forEach(function (box) { box.checked = false; });
      updateSelection();
      selectShown.focus();
    });
    grid.addEventListener("change", function (event) {
      if (!event.target.classList.contains("tile-checkbox")) { return; }
      if (event.target.checked) { bulkForm.querySelector("input[name=target][value=selected]").checked = true; }
      updateSelection();
    });
    bulkForm.addEventListener("change", function (event) {
      if (event.target.name === "target") { updateSelection(); }
      if (event.target === actionSelect) { fitAction(); }
    });

    bulkForm.addEventListener("submit", function (event) {
      syncForms();
      if (actionSelect.value !== "delete" || confirmInput.value === "1") { return; }
      event.preventDefault();
      var matching = bulkForm.querySelector("input[name=target][value=matching]").checked;
      var n = selectedBoxes().length;
      if (!matching && n === 0) {
        confirmText.textContent = "Tick the items to delete first, or choose all items matching the filter.";
        confirmYes.hidden = true;
      } else {
        confirmText.textContent = matching
          ? "Delete all " + (countText(state.count, state.countExact) || "items") + " matching this filter? This cannot be undone."
          : "Delete the " + (n === 1 ? "selected item" : n + " selected items") + "? This cannot be undone.";
        confirmYes.hidden = false;
        confirmYes.textContent = matching ? "Delete them all" : (n === 1 ? "Delete 1 item" : "Delete " + n + " items");
      }
      confirmBox.hidden = false;
      (confirmYes.hidden ? confirmNo : confirmYes).focus();
    });
    confirmYes.addEventListener("click", function () {
      confirmInput.value = "1";
      syncForms();
      bulkForm.submit();
    });
    confirmNo.addEventListener("click", function () {
      confirmBox.hidden = true;
      applyButton.focus();
    });

    fitAction();
    updateSelection();
  }

  // --- Start --------------------------------------------------------------------------------

  grid.querySelectorAll("img").forEach(function (img) {
    if (img.complete && img.naturalWidth === 0) { thumbnailFailed(img); }
  });
  if (/[?&]apply=/.test(window.location.search) && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", state.browserUrl + queryString(state.filter, state.folder, state.sort, null));
  }
  updateFooter();
})();
