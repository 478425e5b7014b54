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
  // The same for a form htmx swaps in refused: only content that is new carries the focus, so a live check
  // refreshed while typing never takes it from the field.
  document.addEventListener("htmx:load", function (event) {
    var added = event.detail && event.detail.elt;
    if (!added || !added.querySelector) { return; }
    var summary = added.matches("[data-autofocus]") ? added : added.querySelector("[data-autofocus]");
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
  // A form marked data-keep-draft keeps what was typed on this device until it is sent, so a dropped connection or
  // a closed tab loses nothing (files cannot be kept: the browser never lets a page pick them again). The page that
  // confirms the sending carries data-forget-draft with the same key, and the copy goes.
  function draftFields(form) {
    return Array.prototype.filter.call(form.elements, function (element) {
      return element.name && element.name !== "csrf_token" && !/^(file|submit|button)$/.test(element.type);
    });
  }
  function storeDraft(key, values) {
    try { localStorage.setItem(key, JSON.stringify(values)); } catch (ignored) { /* private mode: nothing kept */ }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var forget = document.querySelector("[data-forget-draft]");
    if (forget) {
      try { localStorage.removeItem(forget.getAttribute("data-forget-draft")); } catch (ignored) { /* nothing kept */ }
    }
    var form = document.querySelector("form[data-keep-draft]");
    if (!form) { return; }
    var key = form.getAttribute("data-keep-draft");
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (ignored) { saved = null; }
    // A refused form shows what was sent (with its errors), never an older copy over it.
    if (saved && typeof saved === "object" && !form.querySelector("[aria-invalid]")) {
      draftFields(form).forEach(function (element) {
        if (Object.prototype.hasOwnProperty.call(saved, element.name)) { element.value = saved[element.name]; }
      });
      form.dispatchEvent(new Event("change", { bubbles: true }));  // the live check follows the restored fields
    }
    function save() {
      var values = {};
      draftFields(form).forEach(function (element) { values[element.name] = element.value; });
      storeDraft(key, values);
    }
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    var note = form.querySelector("[data-offline-note]");
    // The note says what is kept as soon as the connection drops, not only once Submit is pressed.
    function showConnection() { if (note) { note.hidden = navigator.onLine !== false; } }
    window.addEventListener("offline", showConnection);
    window.addEventListener("online", showConnection);
    showConnection();
    form.addEventListener("submit", function (event) {
      save();
      if (navigator.onLine === false) { event.preventDefault(); }
      showConnection();
    });
  });
})();
