// goshawk console: the parts of a page marked data-live="on" refresh
// themselves every 2 seconds, without a page reload. The page is fetched
// again and each live element is replaced by its new version; open <details>
// stay open and the focus stays where it was. A part that becomes
// data-live="done" (a run that finished) stops refreshing.
(function () {
  "use strict";
  var PERIOD = 2000;
  function live() { return document.querySelectorAll('[data-live="on"]'); }
  if (!live().length) { return; }
  function tick() {
    if (document.hidden) { return schedule(); }
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        live().forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (!fresh || fresh.innerHTML === el.innerHTML) {
            if (fresh) { el.dataset.live = fresh.dataset.live || "done"; }
            return;
          }
          var open = [];
          el.querySelectorAll("details[open]").forEach(function (d) { if (d.id) { open.push(d.id); } });
          var focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : "";
          el.replaceWith(fresh);
          open.forEach(function (id) { var d = document.getElementById(id); if (d) { d.open = true; } });
          if (focused) { var f = document.getElementById(focused); if (f) { f.focus(); } }
        });
      })
      .catch(function () {})
      .then(schedule);
  }
  function schedule() { if (live().length) { setTimeout(tick, PERIOD); } }
  schedule();
})();
