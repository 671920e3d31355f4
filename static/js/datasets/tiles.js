// Dataset browser, the item tiles: one tile per item from the tile <template>, a placeholder naming the kind
// when there is no thumbnail or it fails to load.
//
// Item names and metadata are hostile: they only ever reach the page through textContent, value or the href/src
// built here, never innerHTML.
(function (ns) {
  "use strict";

  var has = ns.query.has;
  var isObject = ns.query.isObject;

  function formatSize(bytes) {
    if (bytes === null || bytes === undefined) { return ""; }
    if (bytes < 1024) { return bytes + (bytes === 1 ? " byte" : " bytes"); }
    var units = ["KB", "MB", "GB", "TB", "PB"];
    var value = bytes;
    var unit = -1;
    do { value /= 1024; unit += 1; } while (value >= 1024 && unit < units.length - 1);
    return value.toFixed(1) + "\u00a0" + units[unit];
  }

  // options: grid (the <ul> of tiles), tileTemplate, itemUrl(id), kindLabels and statusLabels (value -> label).
  ns.tiles = function (options) {
    var grid = options.grid;
    var tileTemplate = options.tileTemplate;
    var kindLabels = options.kindLabels;
    var statusLabels = options.statusLabels;

    function placeholderFor(kind) {
      var tile = tileTemplate.content.querySelector(".tile-placeholder").cloneNode(true);
      tile.querySelector(".tile-kind").textContent = has(kindLabels, kind) ? kindLabels[kind] : String(kind || "");
      return tile;
    }

    function makeTile(item) {
      var li = tileTemplate.content.firstElementChild.cloneNode(true);
      li.dataset.itemId = String(item.id);
      li.dataset.kind = String(item.kind || "");
      li.querySelector(".tile-link").href = options.itemUrl(item.id);
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
      var facts = [has(kindLabels, item.kind) ? kindLabels[item.kind] : String(item.kind || "")];
      if (item.size !== null && item.size !== undefined) { facts.push(formatSize(item.size)); }
      if (item.width && item.height) { facts.push(item.width + "\u00d7" + item.height); }
      var factsEl = li.querySelector(".tile-facts");
      factsEl.textContent = facts.join(" \u00b7 ");
      if (item.status && item.status !== "ready") {
        var status = document.createElement("span");
        status.className = "tile-status";
        status.textContent = has(statusLabels, item.status) ? statusLabels[item.status] : String(item.status);
        factsEl.appendChild(document.createTextNode(" \u00b7 "));
        factsEl.appendChild(status);
      }
      return li;
    }

    // Appends the tiles of one page of results; answers how many were added.
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

    return { appendTiles: appendTiles, thumbnailFailed: thumbnailFailed };
  };
})(window.dlsaasDatasets = window.dlsaasDatasets || {});
