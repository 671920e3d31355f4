// Dataset browser: endless scroll over the items query API (keyset cursor), the filter builder and its JSON
// box, the folder sidebar, and the page state they share. Loaded last, after the pieces it wires together:
// query.js (filters, sorts, counts), builder-rows.js (the condition rows), tiles.js (item tiles) and bulk.js
// (selection and bulk actions), all under window.dlsaasDatasets.
//
// Item names and metadata are hostile: they only ever reach the page through textContent, value or the href/src
// these scripts build themselves, never innerHTML. Without these scripts the page still works: the server renders
// one page, the filter form is a GET form, "Load more" is a link and bulk actions post a form with a confirm page.
(function () {
  "use strict";

  var ns = window.dlsaasDatasets;
  var root = document.getElementById("browser");
  var stateEl = document.getElementById("browser-state");
  if (!ns || !root || !stateEl || !window.fetch || !("content" in document.createElement("template"))) {
    return;
  }
  var state;
  try { state = JSON.parse(stateEl.textContent); } catch (e) { return; }

  var q = ns.query;
  var grid = document.getElementById("item-grid");
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

  var FIELDS = optionValues(rowTemplate.content.querySelector("[data-role=field]"));

  var loading = false;
  var generation = 0; // bumped by every new query, so a late page of an old query is dropped
  var lastSubmitter = null;

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

  function itemUrl(id) {
    return state.itemUrl.replace(/\/0\/$/, "/" + encodeURIComponent(String(id)) + "/");
  }

  var rows = ns.builderRows(rowsList, rowTemplate);
  var tiles = ns.tiles({
    grid: grid,
    tileTemplate: document.getElementById("tile-template"),
    itemUrl: itemUrl,
    kindLabels: optionLabels("kind-values"),
    statusLabels: optionLabels("status-values")
  });
  var bulk = ns.bulk({ grid: grid, bulkForm: document.getElementById("bulk-form"), state: state, syncForms: syncForms });

  function rowsFilter() { return q.filterFromRows(rows.readRows(), FIELDS); }

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
    var text = q.countText(state.count, state.countExact);
    countEl.textContent = text ? text + (state.folder !== null && state.folder !== undefined ? " in " + state.folder : "") : "";
    var matching = document.getElementById("matching-count");
    if (matching) { matching.textContent = text || "items"; }
  }

  grid.addEventListener("error", function (event) {
    if (event.target && event.target.tagName === "IMG") { tiles.thumbnailFailed(event.target); }
  }, true);

  // --- Footer, URL, forms, folders ----------------------------------------------------------

  function updateFooter() {
    var hasTiles = grid.children.length > 0;
    loadMore.hidden = !state.nextCursor;
    loadMore.href = state.nextCursor
      ? state.browserUrl + q.queryString(state.filter, state.folder, state.sort, state.nextCursor)
      : "#";
    gridEmpty.hidden = hasTiles;
    if (!state.nextCursor && hasTiles) { gridStatus.textContent = "That is all."; }
    observe();
  }

  function syncForms() {
    var effective = JSON.stringify(state.effectiveFilter);
    var back = q.queryString(state.filter, state.folder, state.sort, null);
    document.querySelectorAll("[data-state=effective-filter]").forEach(function (input) { input.value = effective; });
    document.querySelectorAll("[data-state=sort]").forEach(function (input) { input.value = q.sortParam(state.sort); });
    document.querySelectorAll("[data-state=back]").forEach(function (input) { input.value = back; });
    var folderInput = document.getElementById("folder-input");
    if (folderInput) { folderInput.remove(); }
  }

  function markFolders() {
    folderList.querySelectorAll("a[data-folder]").forEach(function (link) {
      var folder = link.dataset.folder === "" ? null : link.dataset.folder;
      link.href = state.browserUrl + q.queryString(state.filter, folder, state.sort, null);
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
    var effective = q.combine(filter, folder);
    var mine = ++generation;
    loading = false;
    root.setAttribute("aria-busy", "true");
    gridStatus.textContent = "Loading\u2026";
    return q.postJson(state.queryUrl, { filter: effective, sort: sort, page_size: state.pageSize, count: true })
      .then(function (result) {
        if (mine !== generation) { return; }
        root.removeAttribute("aria-busy");
        gridStatus.textContent = "";
        if (!result.ok || !result.data) {
          showErrors(q.problemMessages(result));
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
        tiles.appendTiles(result.data.results);
        bulk.updateSelection();
        updateCount();
        updateFooter();
        syncForms();
        markFolders();
        if (firstPage) { firstPage.hidden = true; }
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", state.browserUrl + q.queryString(filter, folder, sort, null));
        }
      }, networkError(mine));
  }

  function loadMoreItems() {
    if (loading || !state.nextCursor) { return; }
    loading = true;
    var mine = generation;
    gridStatus.textContent = "Loading more items\u2026";
    q.postJson(state.queryUrl, {
      filter: state.effectiveFilter, sort: state.sort, page_size: state.pageSize, cursor: state.nextCursor, count: false
    }).then(function (result) {
      if (mine !== generation) { return; }
      loading = false;
      if (!result.ok || !result.data) {
        gridStatus.textContent = q.problemMessages(result).join(" ");
        return;
      }
      var added = tiles.appendTiles(result.data.results);
      state.nextCursor = result.data.next_cursor || null;
      gridStatus.textContent = added + (added === 1 ? " more item loaded." : " more items loaded.");
      bulk.updateSelection();
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
    var sort = q.sortFromParam(sortSelect.value);
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
      var shown = q.rowsFromFilter(filter, FIELDS);
      rows.setRows(shown || []);
      showNote(shown === null ? "This filter is more than the rows above can show: edit it as JSON under \u201cAdvanced\u201d." : "");
      run(filter, state.folder, sort);
      return;
    }
    var built = rowsFilter();
    filterJson.value = q.pretty(built);
    showNote("");
    run(built, state.folder, sort);
  });

  rowsList.addEventListener("change", function (event) {
    var li = event.target.closest("[data-row]");
    if (li) { rows.fitRow(li); }
  });

  // The JSON box follows the rows as they are edited, so it always shows what "Apply filter" sends.
  rowsList.addEventListener("input", function () {
    if (builderNote.hidden) { filterJson.value = q.pretty(rowsFilter()); }
  });

  rowsList.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-role=remove]");
    if (!remove) { return; }
    var li = remove.closest("[data-row]");
    var next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    if (!rows.rowElements().length) { next = rows.addRow(null); }
    rows.renumber();
    if (builderNote.hidden) { filterJson.value = q.pretty(rowsFilter()); }
    next.querySelector("[data-role=field]").focus();
  });

  addCondition.hidden = false;
  addCondition.addEventListener("click", function () {
    rows.addRow(null).querySelector("[data-role=field]").focus();
  });

  sortSelect.addEventListener("change", function () {
    run(state.filter, state.folder, q.sortFromParam(sortSelect.value));
  });

  folderList.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-folder]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey || event.button !== 0) { return; }
    event.preventDefault();
    run(state.filter, link.dataset.folder === "" ? null : link.dataset.folder, state.sort);
  });

  rows.rowElements().forEach(rows.fitRow);
  if (advanced && !builderNote.hidden) { advanced.open = true; }

  // --- Start --------------------------------------------------------------------------------

  bulk.wire();
  grid.querySelectorAll("img").forEach(function (img) {
    if (img.complete && img.naturalWidth === 0) { tiles.thumbnailFailed(img); }
  });
  if (/[?&]apply=/.test(window.location.search) && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", state.browserUrl + q.queryString(state.filter, state.folder, state.sort, null));
  }
  updateFooter();
})();
