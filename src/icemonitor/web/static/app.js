// Draws every Vega-Lite chart whose spec sits in a <script type="application/json" data-chart-for="ID"> tag,
// on first load and again after htmx swaps in new results. Each spec tag is drawn once (marked data-drawn).
(function () {
  "use strict";
  // Spanish pages: numbers as in Mexico and the U.S. (1,234.5, like the page text and the reports) and dates in
  // Spanish (ene, febrero...), inside charts too.
  var LOCALES = {
    es: {
      formatLocale: { decimal: ".", thousands: ",", grouping: [3], currency: ["$", ""] },
      timeFormatLocale: {
        dateTime: "%A, %e de %B de %Y, %X", date: "%d/%m/%Y", time: "%H:%M:%S", periods: ["AM", "PM"],
        days: ["domingo", "lunes", "martes", "mi\u00e9rcoles", "jueves", "viernes", "s\u00e1bado"],
        shortDays: ["dom", "lun", "mar", "mi\u00e9", "jue", "vie", "s\u00e1b"],
        months: ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                 "octubre", "noviembre", "diciembre"],
        shortMonths: ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"]
      }
    }
  };
  // On a narrow screen legends go under the plot and long labels are shortened, so the plot keeps the width.
  var NARROW = 640;
  function narrowConfig(width) {
    return {
      legend: { orient: "bottom", symbolDirection: "vertical", gradientDirection: "horizontal", gradientLength: Math.min(260, width - 40), labelLimit: width - 40, titleLimit: width - 20 },
      axisY: { labelLimit: Math.round(width * 0.35) },
      title: { limit: width - 10 }
    };
  }
  function embedOptions(target) {
    var opts = { actions: false, renderer: "svg", tooltip: true };
    if (target && target.clientWidth && target.clientWidth < NARROW) { opts.config = narrowConfig(target.clientWidth); }
    var lang = (document.documentElement.getAttribute("lang") || "en").slice(0, 2);
    var loc = LOCALES[lang];
    if (loc) { opts.formatLocale = loc.formatLocale; opts.timeFormatLocale = loc.timeFormatLocale; }
    return opts;
  }
  function draw() {
    if (typeof vegaEmbed === "undefined") { return; }
    document.querySelectorAll('script[type="application/json"][data-chart-for]:not([data-drawn])').forEach(function (tag) {
      var target = document.getElementById(tag.getAttribute("data-chart-for"));
      tag.setAttribute("data-drawn", "1");
      if (!target) { return; }
      var spec;
      try { spec = JSON.parse(tag.textContent); } catch (e) { target.setAttribute("data-state", "error"); return; }
      // a map (a projection) keeps the US aspect ratio on a narrow screen instead of a fixed height
      if (spec.projection && typeof spec.height === "number" && target.clientWidth < NARROW) {
        spec.height = Math.round(target.clientWidth * 0.63);
      }
      target.setAttribute("data-state", "drawing");
      vegaEmbed(target, spec, embedOptions(target))
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
