// rexist UI: times in the reader's time zone, keyboard focus on the search box.
(function () {
  "use strict";
  var lang = document.body ? document.body.getAttribute("data-lang") || "en" : "en";
  function localTimes(root) {
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
      });
    } catch (e) { return; }
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = fmt.format(d); t.title = t.getAttribute("datetime"); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); });
  // "/" focuses the search box, as on most sites.
  document.addEventListener("keydown", function (e) {
    var q = document.getElementById("q");
    if (e.key === "/" && q && document.activeElement !== q &&
        !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      e.preventDefault(); q.focus(); q.select();
    }
  });
})();
