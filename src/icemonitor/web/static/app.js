// Draws every Vega-Lite chart whose spec sits in a <script type="application/json" data-chart-for="ID"> tag,
// on first load and again after htmx swaps in new results.
(function () {
  "use strict";
  function draw(root) {
    if (typeof vegaEmbed === "undefined") { return; }
    root.querySelectorAll('script[type="application/json"][data-chart-for]').forEach(function (tag) {
      var target = document.getElementById(tag.getAttribute("data-chart-for"));
      if (!target) { return; }
      var spec;
      try { spec = JSON.parse(tag.textContent); } catch (e) { return; }
      target.setAttribute("data-state", "drawing");
      vegaEmbed(target, spec, { actions: false, renderer: "svg", tooltip: true })
        .then(function () { target.setAttribute("data-state", "drawn"); })
        .catch(function (err) {
          target.setAttribute("data-state", "error");
          target.textContent = String(err);
        });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { draw(evt.detail.elt || document); });
})();
