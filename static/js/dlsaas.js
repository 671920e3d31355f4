// Helpers shared by the page scripts: the CSRF token for same-origin API calls, and a list of error
// messages shown in words (text only, never HTML).
window.dlsaas = (function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) { return decodeURIComponent(match[1]); }
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function showErrorList(container, intro, messages) {
    container.textContent = "";
    var lead = document.createElement("p");
    lead.textContent = intro;
    var list = document.createElement("ul");
    messages.forEach(function (message) {
      var li = document.createElement("li");
      li.textContent = message;
      list.appendChild(li);
    });
    container.appendChild(lead);
    container.appendChild(list);
    container.hidden = false;
  }

  return { csrfToken: csrfToken, showErrorList: showErrorList };
})();
