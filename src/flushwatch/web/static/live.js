// The Live page: fills the tables from /api/live (server-sent events), newest first.
(function () {
  "use strict";
  const MAX_ROWS = 200;
  const usd = (x) => "$" + Number(x).toLocaleString("en-US", { maximumFractionDigits: 0 });
  const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };

  function prepend(tbody, cells) {
    const tr = document.createElement("tr");
    cells.forEach((c) => tr.appendChild(cell(c)));
    tbody.insertBefore(tr, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) { tbody.deleteRow(-1); }
  }

  function apply(data) {
    (data.liquidations || []).forEach((p) => prepend(
      document.querySelector("#liquidations tbody"),
      [p.time, p.exchange, p.symbol, p.side, Number(p.price).toPrecision(6), usd(p.notional), p.coverage]));
    (data.alerts || []).forEach((a) => prepend(
      document.querySelector("#alerts tbody"), [a.time || "", a.title || a.kind || "", a.text || ""]));
    if (data.totals) {
      const t = data.totals;
      document.getElementById("hour").textContent = "(from " + t.hour + ")";
      document.getElementById("total-long").textContent = usd(t.long_usd);
      document.getElementById("total-short").textContent = usd(t.short_usd);
      document.getElementById("total-count").textContent = String(t.count);
      document.getElementById("lower-bound").hidden = !t.lower_bound;
    }
    document.getElementById("status").textContent =
      "connected, updated " + new Date().toISOString().slice(11, 19) + " UTC";
  }

  const source = new EventSource("/api/live");
  source.addEventListener("snapshot", (e) => apply(JSON.parse(e.data)));
  source.addEventListener("update", (e) => apply(JSON.parse(e.data)));
  source.onerror = () => { document.getElementById("status").textContent = "reconnecting…"; };
})();
