// Draws every Vega-Lite chart whose spec sits in a <script type="application/json" data-chart-for="ID"> tag,
// on first load and again after htmx swaps in new results. Each spec tag is drawn once (marked data-drawn).
(function () {
  "use strict";
  function draw() {
    if (typeof vegaEmbed === "undefined") { return; }
    document.querySelectorAll('script[type="application/json"][data-chart-for]:not([data-drawn])').forEach(function (tag) {
      var target = document.getElementById(tag.getAttribute("data-chart-for"));
      tag.setAttribute("data-drawn", "1");
      if (!target) { return; }
      var spec;
      try { spec = JSON.parse(tag.textContent); } catch (e) { target.setAttribute("data-state", "error"); return; }
      target.setAttribute("data-state", "drawing");
      vegaEmbed(target, spec, { actions: false, renderer: "svg", tooltip: true })
        .then(function () { target.setAttribute("data-state", "drawn"); })
        .catch(function (err) {
          target.setAttribute("data-state", "error");
          target.textContent = String(err);
        });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
