// tt-dbproxy console: draws the status charts from /console/api/stats as
// inline SVG and fills the per-command table. No other script, no
// external code; text is inserted with textContent only.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function draw(svg, values) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var n = values.length;
    var max = 0;
    values.forEach(function (v) { if (isFinite(v) && v > max) max = v; });
    if (max <= 0) max = 1;
    var line = document.createElementNS(SVG, "polyline");
    var pts = values.map(function (v, i) {
      var x = n > 1 ? (i * 300) / (n - 1) : 0;
      var y = 100 - (Math.min(isFinite(v) ? v : max, max) / max) * 95;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    line.setAttribute("points", pts.join(" "));
    svg.setAttribute("data-points", String(n));
    svg.appendChild(line);
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function refresh() {
    fetch("/console/api/stats", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { points: [] }; })
      .then(function (data) {
        var points = data.points || [];
        document.querySelectorAll("svg[data-key]").forEach(function (svg) {
          var key = svg.getAttribute("data-key");
          var values = points.map(function (p) { return Number(p[key]) || 0; });
          draw(svg, values);
          var last = document.getElementById(svg.id + "-last");
          if (last) last.textContent = values.length ? String(Math.round(values[values.length - 1] * 100) / 100) : "";
        });
        var count = document.getElementById("points");
        if (count) count.textContent = String(points.length);
        var body = document.querySelector("#commands tbody");
        if (body && points.length) {
          while (body.firstChild) body.removeChild(body.firstChild);
          var cmds = points[points.length - 1].commands || {};
          Object.keys(cmds).forEach(function (name) {
            var c = cmds[name];
            var row = document.createElement("tr");
            cell(row, name);
            cell(row, c.rps.toFixed(1));
            cell(row, c.p50_ms === null ? "slow" : String(c.p50_ms));
            cell(row, c.p99_ms === null ? "slow" : String(c.p99_ms));
            body.appendChild(row);
          });
        }
      })
      .catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("svg[data-key]")) {
      refresh();
      setInterval(refresh, 2000);
    }
  });
})();
