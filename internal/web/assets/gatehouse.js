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

// New group and project forms (docs/design.md §6.9): the path follows the name, slugified as
// GitLab does and as the server does when the path is left empty, until the path is edited by
// hand; and the visibility options more visible than the chosen namespace are disabled.
(function () {
  "use strict";
  function slugify(s) {
    return s.trim().toLowerCase().replace(/[^a-z0-9_.]+/g, "-").replace(/-+/g, "-").replace(/^-+|-+$/g, "");
  }
  var levels = { "private": 0, "internal": 1, "public": 2 };
  document.addEventListener("DOMContentLoaded", function () {
    var names = document.querySelectorAll("input[data-slug-target]");
    Array.prototype.forEach.call(names, function (name) {
      var path = document.getElementById(name.getAttribute("data-slug-target"));
      if (!path) { return; }
      var follows = path.value === "" || path.value === slugify(name.value);
      path.addEventListener("input", function () { follows = path.value === ""; });
      name.addEventListener("input", function () {
        if (follows) { path.value = slugify(name.value); }
      });
    });
    var ns = document.getElementById("project-namespace");
    if (ns) {
      var apply = function () {
        var opt = ns.options[ns.selectedIndex];
        var max = opt ? opt.getAttribute("data-max-visibility") : null;
        var radios = document.querySelectorAll("input[name=visibility]");
        Array.prototype.forEach.call(radios, function (r) {
          var tooVisible = max !== null && levels[r.value] > levels[max];
          r.disabled = tooVisible;
          if (tooVisible && r.checked) {
            r.checked = false;
            var fallback = document.getElementById("visibility-" + max);
            if (fallback) { fallback.checked = true; }
          }
        });
      };
      ns.addEventListener("change", apply);
      apply();
    }
  });
})();
