// Draws every figure a page embeds (see flushwatch/web/layout.py): no network, no framework.
(function () {
  "use strict";
  const config = { responsive: true, displaylogo: false };
  document.querySelectorAll("script.fig").forEach(function (node) {
    const target = document.getElementById(node.dataset.target);
    if (!target) { return; }
    const fig = JSON.parse(node.textContent);
    Plotly.newPlot(target, fig.data, fig.layout, config);
  });
})();
