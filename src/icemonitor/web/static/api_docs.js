// Starts the vendored Swagger UI on /api/docs over the app's OpenAPI description (no validator badge: it would
// send the description to another host).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var target = document.getElementById("swagger-ui");
    if (!target || typeof SwaggerUIBundle === "undefined") { return; }
    window.ui = SwaggerUIBundle({
      url: target.getAttribute("data-openapi"),
      dom_id: "#swagger-ui",
      validatorUrl: null,
      deepLinking: true,
      tryItOutEnabled: false,
      onComplete: function () { target.setAttribute("data-state", "drawn"); }
    });
  });
})();
