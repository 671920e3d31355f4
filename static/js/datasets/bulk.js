// Dataset browser, selection and bulk actions: tick tiles (or choose every item matching the filter), pick an
// action, and confirm in words before a delete. Without this script the bulk form posts and the server asks
// for confirmation on its own page.
(function (ns) {
  "use strict";

  var countText = ns.query.countText;

  // options: grid (the <ul> of tiles), bulkForm (absent for a member who may not change items), state (the
  // browser's live state: count, countExact), syncForms() (copies the current query into the forms' hidden inputs).
  ns.bulk = function (options) {
    var grid = options.grid;
    var bulkForm = options.bulkForm;
    var state = options.state;
    var syncForms = options.syncForms;

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

    function wire() {
      if (!bulkForm) { return; }
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

    return { updateSelection: updateSelection, wire: wire };
  };
})(window.dlsaasDatasets = window.dlsaasDatasets || {});
