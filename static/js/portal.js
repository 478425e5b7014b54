/* Behaviour that htmx's strict-CSP configuration (allowEval: false) keeps out of the markup. */
(function () {
  "use strict";

  function showError(message) {
    var box = document.getElementById("htmx-error");
    if (!box) { return; }
    box.textContent = message;
    box.hidden = false;
  }

  document.addEventListener("htmx:responseError", function () {
    showError(document.body.getAttribute("data-error-text"));
  });
  document.addEventListener("htmx:sendError", function () {
    showError(document.body.getAttribute("data-error-text"));
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var box = document.getElementById("htmx-error");
    if (box) { box.hidden = true; }
  });
})();
