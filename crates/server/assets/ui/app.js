// rexist UI: times in the reader's locale and time zone, keyboard focus on the search box.
(function () {
  "use strict";
  // The page's locale (en-US, en-GB or ja): the server wrote each time for
  // it in UTC; here it is written the same way in the reader's own zone,
  // with the zone named.
  var html = document.documentElement;
  var locale = html.getAttribute("data-locale") || html.getAttribute("lang") || "en-US";
  function localTimes(root) {
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(locale, {
        year: "numeric", month: "short", day: "numeric",
        hour: "numeric", minute: "2-digit", timeZoneName: "short"
      });
    } catch (e) { return; }
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = fmt.format(d); t.title = t.getAttribute("datetime"); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); });
  // A "select all" box (data-select-all="FORM") ticks the form's pickable boxes (data-pick).
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("input[data-select-all]")) { return; }
    var form = document.getElementById(box.getAttribute("data-select-all"));
    if (!form) { return; }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el !== box && el.type === "checkbox" && el.hasAttribute("data-pick")) { el.checked = box.checked; }
    });
  });
  // "/" focuses the search box, as on most sites.
  document.addEventListener("keydown", function (e) {
    var q = document.getElementById("q");
    if (e.key === "/" && q && document.activeElement !== q &&
        !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      e.preventDefault(); q.focus(); q.select();
    }
  });
})();
