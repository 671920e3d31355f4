// Dataset browser, the filter builder's condition rows: read them, add, fit and renumber them from the
// row <template>. Values typed by the user only ever go back through .value, never innerHTML.
(function (ns) {
  "use strict";

  // rowsList: the <ol> of rows; rowTemplate: the <template> holding one empty row.
  ns.builderRows = function (rowsList, rowTemplate) {
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

    return {
      rowElements: rowElements,
      readRows: readRows,
      fitRow: fitRow,
      renumber: renumber,
      addRow: addRow,
      setRows: setRows
    };
  };
})(window.dlsaasDatasets = window.dlsaasDatasets || {});
