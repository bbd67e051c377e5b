// rexist search, item and indicator pages: j/k through results, copy as defanged,
// htmx error fragments shown in place.
(function () {
  "use strict";
  // Pages swapped in by hx-boost run this file again: listen once.
  if (window.rexistSearchUi) { return; }
  window.rexistSearchUi = true;
  function typing() {
    var a = document.activeElement;
    return a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName);
  }
  // j/k move focus through the results (links marked data-result).
  document.addEventListener("keydown", function (e) {
    if ((e.key !== "j" && e.key !== "k") || e.ctrlKey || e.metaKey || e.altKey || typing()) { return; }
    var links = Array.prototype.slice.call(document.querySelectorAll("a[data-result]"));
    if (!links.length) { return; }
    var i = links.indexOf(document.activeElement);
    i = e.key === "j" ? Math.min(i + 1, links.length - 1) : Math.max(i - 1, 0);
    e.preventDefault();
    links[i].focus();
    links[i].scrollIntoView({ block: "nearest" });
  });
  document.addEventListener("focusin", function (e) {
    document.querySelectorAll(".results li.current").forEach(function (li) { li.classList.remove("current"); });
    var li = e.target.closest && e.target.closest(".results li");
    if (li) { li.classList.add("current"); }
  });
  // Copy as defanged.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-copy]");
    if (!b || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
      var was = b.textContent;
      b.textContent = b.getAttribute("data-done") || was;
      setTimeout(function () { b.textContent = was; }, 1500);
    });
  });
  // Forms marked data-swap-errors show their 4xx answers (a message fragment).
  document.addEventListener("htmx:beforeSwap", function (e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    var status = e.detail.xhr ? e.detail.xhr.status : 0;
    if (elt && elt.closest && elt.closest("[data-swap-errors]") && status >= 400 && status < 500) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
})();
