// Gatehouse UI: the only script, and optional. It turns on the copy buttons next to a newly
// created deploy token; without it the values stay selectable in read-only fields.
(function () {
  "use strict";
  function status(text) {
    var el = document.getElementById("copy-status");
    if (el) { el.textContent = text; }
  }
  function fallbackCopy(input) {
    input.focus();
    input.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button.js-copy[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (btn) {
      var input = document.getElementById(btn.getAttribute("data-copy-target"));
      if (!input) { return; }
      btn.hidden = false;
      btn.addEventListener("click", function () {
        var label = btn.textContent.replace(/^Copy /, "");
        var done = function () { status("Copied the " + label + " to the clipboard."); };
        var failed = function () {
          if (fallbackCopy(input)) { done(); } else { status("Could not copy: select the " + label + " and copy it by hand."); }
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, failed);
        } else {
          failed();
        }
      });
    });
  });
})();
