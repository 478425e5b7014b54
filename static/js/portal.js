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

  // A refused form's summary of errors takes the focus, so a screen reader and a phone both start there.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-autofocus]");
    if (summary) { summary.focus(); }
  });

  // The phone's menu button opens and closes the menu; on a desktop the button is hidden and the menu always open.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-menu-toggle]") : null;
    if (!button) { return; }
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.closest(".topbar").classList.toggle("menu-open", open);
  });

  // An amount shown short (115.2万) shows its exact value when tapped, and back.
  document.addEventListener("click", function (event) {
    var figure = event.target.closest ? event.target.closest("[data-exact]") : null;
    if (!figure) { return; }
    var shown = figure.textContent;
    figure.textContent = figure.getAttribute("data-exact");
    figure.setAttribute("data-exact", shown);
  });

  // Keyboard shortcuts a page lists for itself: an element with data-shortcut="j" is pressed by the J key. Never
  // while typing in a field, and never with a modifier (Ctrl+A still selects all).
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) { return; }
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(TEXTAREA|SELECT)$/.test(target.tagName) ||
      (target.tagName === "INPUT" && !/^(checkbox|radio|submit|button)$/.test(target.type)));
    if (typing) { return; }
    var key = (event.key || "").toLowerCase();
    if (!/^[a-z]$/.test(key)) { return; }
    var element = document.querySelector('[data-shortcut="' + key + '"]');
    if (!element) { return; }
    event.preventDefault();
    element.click();
  });
})();
