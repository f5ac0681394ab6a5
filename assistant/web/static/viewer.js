// Policy viewer: highlight the clause named in the URL fragment (#<clause_id>) and scroll to it.
(function () {
  "use strict";

  function highlight() {
    document.querySelectorAll(".pa-highlight").forEach(function (node) {
      node.classList.remove("pa-highlight");
    });
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) return;
    var first = document.getElementById(id);
    if (!first) return;
    document.querySelectorAll('[data-clause="' + CSS.escape(id) + '"]').forEach(function (node) {
      node.classList.add("pa-highlight");
    });
    first.setAttribute("tabindex", "-1");
    first.scrollIntoView({ block: "center" });
    first.focus({ preventScroll: true });
  }

  window.addEventListener("hashchange", highlight);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", highlight);
  else highlight();
})();
