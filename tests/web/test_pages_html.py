"""The ``--html`` pages of map, cascade, backtest-map and demo, opened offline in real Chromium.

Issue 15 ("charts that read well, dashboard and --html files alike"): the pages are written by
the real CLI (the map and the backtest on the real CoinGlass hourly BTC file, the cascade and
the demo on the demo's simulated store) and loaded from ``file://`` with every other request
aborted. Checked in the browser, on what Plotly drew: no console errors, no two labels of a
chart overlapping, the map's colour bar clear of the "map now" bars and the cumulative curves,
no empty subplot, one font family for every piece of text, the backtest's numbers equal to
its ``--json`` ones, and the demo's sections present and labelled simulated. One browser for
the module; a missing Chromium skips locally and fails under CI=true.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, sync_playwright
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.testing.browser import CHROMIUM, CHROMIUM_FLAGS, need_chromium

FILE = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
AT = "2026-02-07T00:00"
TIMEOUT_MS = 30_000
PAGES = ("map", "cascade", "backtest", "forecast", "demo")


@dataclass
class Pages:
    """Every page loaded in its own tab, the ``--json`` documents, and what went wrong."""

    tabs: dict[str, Page]
    docs: dict[str, Any]
    blocked: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)


def _cli(*args: str) -> str:
    made = CliRunner().invoke(app, list(args))
    assert made.exit_code == 0, made.stderr or made.stdout
    return made.stdout


def _write_pages(out: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """Every page through the real CLI, and the JSON each command prints."""
    from flushwatch.testing.real import store_for

    real = str(store_for((FILE,)).root)
    files = {name: out / f"{name}.html" for name in PAGES}
    docs: dict[str, Any] = {}
    _cli("map", "BTC", "--store", real, "--at", AT, "--html", str(files["map"]))
    nowcast = ("backtest-map", "BTC", "--store", real, "--protocol", "nowcast")
    _cli(*nowcast, "--html", str(files["backtest"]))
    docs["backtest"] = json.loads(_cli(*nowcast, "--json"))
    # the default protocol's page (forecast, then the nowcast): its nowcast is the same run
    _cli("backtest-map", "BTC", "--store", real, "--html", str(files["forecast"]))
    docs["forecast"] = docs["backtest"]
    demo = json.loads(_cli("demo", "--out", str(out / "demo"), "--json"))
    Path(demo["html"]).rename(files["demo"])
    docs["demo"] = demo
    cascade = ("cascade", "BTC", "--store", demo["store"], "--shock=-3%", "--runs", "500")
    docs["cascade"] = json.loads(_cli(*cascade, "--html", str(files["cascade"]), "--json"))
    return files, docs


@pytest.fixture(scope="module")
def pages(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    """Write the pages, then open each offline in one headless Chromium."""
    need_chromium()
    out = tmp_path_factory.mktemp("pages")
    files, docs = _write_pages(out)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(out / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            service_workers="block",
        )
        try:
            state = Pages(tabs={}, docs=docs)

            def gate(route: Route) -> None:
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    state.blocked.append(route.request.url)
                    route.abort("internetdisconnected")

            context.route("**/*", gate)
            for name, path in files.items():
                tab = context.new_page()
                tab.set_default_timeout(TIMEOUT_MS)
                errors = state.errors.setdefault(name, [])

                def on_console(msg: ConsoleMessage, errors: list[str] = errors) -> None:
                    if msg.type == "error":
                        errors.append(f"console: {msg.text}")

                tab.on("console", on_console)
                tab.on("pageerror", lambda exc, errors=errors: errors.append(f"error: {exc}"))
                tab.goto(path.as_uri(), wait_until="load")
                tab.wait_for_selector(".js-plotly-plot .main-svg .trace")
                state.tabs[name] = tab
            yield state
        finally:
            context.close()


def test_pages_open_offline_without_console_errors(pages: Pages) -> None:
    assert set(pages.tabs) == set(PAGES)
    assert pages.blocked == []
    assert pages.errors == {name: [] for name in PAGES}


# Every annotation's drawn box (text and its background), per chart.
_LABEL_BOXES = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd =>
    Array.from(gd.querySelectorAll('g.annotation .annotation-text-g')).map(g => {
        const r = g.getBoundingClientRect();
        return {text: g.textContent, x0: r.left, x1: r.right, y0: r.top, y1: r.bottom};
    }).filter(b => b.x1 > b.x0 && b.y1 > b.y0))"""


def _overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of boxes that share more than half a pixel each way."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            w = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
            h = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
            if w > 0.5 and h > 0.5:
                out.append((a["text"][:50], b["text"][:50]))
    return out


def test_labels_do_not_overlap(pages: Pages) -> None:
    """Stop labels, key levels, subplot titles and line labels each keep their own space."""
    for name, tab in pages.tabs.items():
        charts = tab.evaluate(_LABEL_BOXES)
        assert charts, name
        for boxes in charts:
            assert _overlapping(boxes) == [], name
    # the map's stop clusters are labelled, with their price, merged where they sit close
    stops = [b["text"] for b in pages.tabs["map"].evaluate(_LABEL_BOXES)[0]]
    stops = [t for t in stops if t.startswith("stops (heuristic): ")]
    assert stops
    assert all(t[len("stops (heuristic): ")][0].isdigit() for t in stops)


def _box(tab: Page, selector: str) -> dict[str, float]:
    box = tab.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def _apart(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] + a["width"] <= b["x"] + 0.5
        or b["x"] + b["width"] <= a["x"] + 0.5
        or a["y"] + a["height"] <= b["y"] + 0.5
        or b["y"] + b["height"] <= a["y"] + 0.5
    )


def test_colour_bar_clear_of_the_map_now_panel(pages: Pages) -> None:
    for name in ("map", "demo"):
        chart = ".js-plotly-plot:has(.heatmaplayer .hm)"
        tab = pages.tabs[name]
        bar = _box(tab, f"{chart} .colorbar")
        assert bar["width"] > 20, name
        for panel in ("x2y2", "x3y3"):  # "map now", the cumulative curves
            drawn = _box(tab, f"{chart} .nsewdrag[data-subplot='{panel}']")
            assert _apart(bar, drawn), (name, panel, bar, drawn)
        heat = _box(tab, f"{chart} .nsewdrag[data-subplot='xy']")
        assert _apart(bar, heat), name


_EMPTY_PANELS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
    const fl = gd._fullLayout;
    const used = new Set(gd._fullData.filter(t => t.visible !== false)
        .map(t => (t.xaxis || 'x') + (t.yaxis || 'y')));
    return {panels: fl._subplots.cartesian.length,
            empty: fl._subplots.cartesian.filter(id => {
                const xa = fl['xaxis' + id.slice(1, id.indexOf('y'))];
                return xa.visible !== false && !used.has(id); })};
})"""


def test_no_empty_subplot(pages: Pages) -> None:
    for name, tab in pages.tabs.items():
        charts = tab.evaluate(_EMPTY_PANELS)
        assert charts, name
        for chart in charts:
            assert chart["panels"] >= 1
            assert chart["empty"] == [], name
    backtest = pages.tabs["backtest"].evaluate(_EMPTY_PANELS)
    assert [c["panels"] for c in backtest] == [3]  # long, short scatter; capture bars


_FONTS = """() => Array.from(document.querySelectorAll('body *'))
    .filter(e => !['SCRIPT', 'STYLE', 'title'].includes(e.tagName))
    .filter(e => Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
    .map(e => getComputedStyle(e).fontFamily)"""


def test_one_font_family_everywhere(pages: Pages) -> None:
    """Page text and chart text alike (the map page used to be serif beside "Open Sans")."""
    families: dict[str, set[str]] = {}
    for name, tab in pages.tabs.items():
        found = tab.evaluate(_FONTS)
        assert len(found) > 50, name  # headings, tables and the charts' SVG text
        families[name] = set(found)
    assert len(set().union(*families.values())) == 1, families
    assert "system-ui" in next(iter(families["map"]))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _expected_rows(doc: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """The terminal's two tables, from the ``--json`` document."""
    sides = doc["sides"] + ([doc["oi_drop_proxy"]] if doc["oi_drop_proxy"] else [])
    rows = [
        [s["side"], str(s["n"]),
         f"{_pct(s['map_capture']['share'])} [{_pct(s['map_capture']['ci_low'])}–"
         f"{_pct(s['map_capture']['ci_high'])}]",
         _pct(s["baseline_capture"]["share"]), _pct(s["chance"]),
         f"{s['map_spearman']['r']:.3f}", f"{s['baseline_spearman']['r']:.3f}",
         f"{s['partial']['r']:+.3f} [{s['partial']['ci_low']:+.3f}, "
         f"{s['partial']['ci_high']:+.3f}]",
         f"{s['partial']['p']:.2g}"]
        for s in sides
    ]  # fmt: skip
    levels = [
        [lv["side"], str(lv["days"]),
         f"{_pct(lv['map_share'])} [{_pct(lv['map_ci_low'])}–{_pct(lv['map_ci_high'])}]",
         _pct(lv["baseline_share"]), _pct(lv["chance"]), f"{lv['median_bins']:.0f}"]
        for lv in doc["levels"]
    ]  # fmt: skip
    return rows, levels


def _cells(tab: Page, table: str) -> list[list[str]]:
    rows = tab.locator(f"table.{table} tbody tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def test_backtest_numbers_equal_the_json(pages: Pages) -> None:
    """Capture shares with CIs, baseline, chance, n, correlations: on the page, not only in
    the terminal; the default (forecast) page carries the same nowcast tables."""
    for name in ("backtest", "forecast"):
        doc, tab = pages.docs[name], pages.tabs[name]
        rows, levels = _expected_rows(doc)
        assert [r[0] for r in rows] == ["long", "short"]
        assert _cells(tab, "nowcast") == rows, name
        assert _cells(tab, "nowcast-levels") == levels, name
    n = [s["n"] for s in pages.docs["backtest"]["sides"]]
    assert n == [4240, 4240]  # the hourly file's bars after the 72-bar warm-up


def test_cascade_page_monte_carlo_and_gain_view(pages: Pages) -> None:
    doc, tab = pages.docs["cascade"], pages.tabs["cascade"]
    mc = doc["monte_carlo"]
    assert mc["runs"] == 500
    shown = _cells(tab, "monte-carlo")
    assert shown == [
        [f"{x:g}%", _pct(p)] for x, p in zip(mc["thresholds_pct"], mc["prob_beyond"], strict=True)
    ]
    # the gain panel opens on the bins with any gain, not on every bin of the map
    lo, hi = tab.evaluate("() => document.querySelector('.js-plotly-plot').layout.xaxis3.range")
    gain = doc["result"]["gain"]
    mids = [(a + b) / 2 for a, b in zip(gain["price_lo"], gain["price_hi"], strict=True)]
    live = [m for m, g in zip(mids, gain["gain"], strict=True) if g is not None and g > 0]
    assert lo <= min(live)
    assert max(live) <= hi
    assert hi - lo < max(mids) - min(mids)


def test_demo_page_sections(pages: Pages) -> None:
    """The report, map, stop clusters, cascade with its Monte Carlo, fragility: simulated."""
    tab, demo = pages.tabs["demo"], pages.docs["demo"]
    assert tab.locator(".sim").inner_text().startswith("SIMULATED DATA")
    heads = tab.locator("h2").all_inner_texts()
    for wanted in (
        "Estimated liquidation map (simulated market)",
        "Stop clusters (simulated market; a heuristic, not liquidation mass)",
        "Cascade from a -3% shock (estimate), simulated market",
        "Fragility ranking (simulated market, estimate)",
    ):
        assert wanted in heads
    assert tab.locator(".js-plotly-plot").count() == 3  # report, map, cascade
    assert tab.locator("h3", has_text="Monte Carlo: 2,000 runs").count() == 1
    assert len(_cells(tab, "monte-carlo")) == 5  # moves of at least 2, 5, 10, 15, 20 %
    clusters = _cells(tab, "stop-clusters")
    assert clusters
    assert {r[0] for r in clusters} <= {"long stops", "short stops"}
    ranked = _cells(tab, "fragility")
    assert [r[1] for r in ranked] == demo["fragility_rank"] == ["BTC"]
