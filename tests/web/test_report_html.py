"""The HTML page of `flushwatch report --html`, opened offline in a real headless Chromium.

The store holds the real CoinGlass hourly BTC file; the page is written by the real CLI and
loaded from ``file://`` with every other request aborted (and recorded), so a page that needs
the network fails here. Chromium is Debian's (/usr/bin/chromium), driven by Playwright: a
missing browser skips locally and fails under CI=true (.ci/run installs it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, WebSocket, sync_playwright
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.testing.browser import CHROMIUM, CHROMIUM_FLAGS, need_chromium

FILE = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
AT = "2026-02-06T00:00"
TIMEOUT_MS = 20_000


@dataclass
class Loaded:
    """The report page after load, with what happened while it loaded."""

    page: Page
    report: dict[str, Any]
    screenshot: Path
    blocked: list[str] = field(default_factory=list)  # every non-file: request (aborted)
    requests: list[str] = field(default_factory=list)  # every request the page made
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def loaded(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Write the page through the real CLI, then open it offline in headless Chromium."""
    need_chromium()
    from flushwatch.testing.real import store_for

    store = store_for((FILE,)).root
    out = tmp_path_factory.mktemp("web")
    page_file = out / "report.html"
    runner = CliRunner()
    made = runner.invoke(
        app, ["report", "BTC", "--store", str(store), "--at", AT, "--html", str(page_file)]
    )
    assert made.exit_code == 0, made.stderr or made.stdout
    assert page_file.is_file()
    as_json = runner.invoke(app, ["report", "BTC", "--store", str(store), "--at", AT, "--json"])
    assert as_json.exit_code == 0, as_json.stderr
    report = json.loads(as_json.stdout)

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(out / "profile"),  # a new, empty profile
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            service_workers="block",
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            state = Loaded(page=page, report=report, screenshot=out / "report.png")

            def gate(route: Route) -> None:
                url = route.request.url
                if url.startswith("file:"):
                    route.continue_()
                else:
                    state.blocked.append(url)
                    route.abort("internetdisconnected")

            def on_socket(ws: WebSocket) -> None:
                state.blocked.append(ws.url)

            def on_console(msg: ConsoleMessage) -> None:
                if msg.type == "error":
                    state.console_errors.append(f"console: {msg.text} ({msg.location})")

            context.route("**/*", gate)
            page.on("request", lambda r: state.requests.append(r.url))
            page.on("websocket", on_socket)
            page.on("console", on_console)
            page.on("pageerror", lambda exc: state.console_errors.append(f"page error: {exc}"))

            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_selector(".js-plotly-plot .main-svg .trace")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(state.screenshot), full_page=True)
            yield state
        finally:
            context.close()


def test_page_opens_offline(loaded: Loaded) -> None:
    """No request left file:// — no CDN, fonts, telemetry or websocket."""
    assert loaded.blocked == []
    web = [
        u for u in loaded.requests if u.split(":", 1)[0].lower() in {"http", "https", "ws", "wss"}
    ]
    assert web == []
    assert loaded.requests, "the page's own file: request should have been seen"
    assert all(u.startswith(("file:", "data:", "blob:")) for u in loaded.requests), loaded.requests


def test_no_console_errors(loaded: Loaded) -> None:
    assert loaded.console_errors == []


def test_plotly_chart_rendered(loaded: Loaded) -> None:
    page = loaded.page
    assert page.locator(".js-plotly-plot").count() == 1
    types = page.evaluate("() => document.querySelector('.js-plotly-plot').data.map(t => t.type)")
    assert types[0] == "candlestick"
    assert "bar" in types  # liquidations (and volume)
    # drawn in the SVG, not only present in the figure's data
    assert page.locator(".js-plotly-plot .main-svg .trace").count() >= len(types)
    assert page.locator(".js-plotly-plot .trace.boxes path").count() > 0  # the candles
    assert page.locator(".js-plotly-plot .trace.bars path").count() > 0  # the bars
    bad = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot .trace path'))
            .map(p => p.getAttribute('d') || '')
            .filter(d => d.includes('NaN') || d.includes('undefined'))"""
    )
    assert bad == [], f"{len(bad)} trace paths with no coordinates, e.g. {bad[0][:60]}"
    box = page.locator(".js-plotly-plot .main-svg").first.bounding_box()
    assert box is not None
    assert box["width"] > 600
    assert box["height"] > 600


def test_verdict_and_checklist(loaded: Loaded) -> None:
    page, report = loaded.page, loaded.report
    assert page.title() == "flushwatch report — BTC"
    assert page.get_by_role("heading", name="BTC flush report").is_visible()
    assert page.get_by_role("heading", name="Verdict", exact=True).is_visible()
    verdict = report["verdict"]
    assert verdict is not None, "the 2026-02-05/06 long flush should get a verdict"
    shown = page.locator("p.verdict").inner_text()
    assert verdict["name"].replace("_", " ") in shown
    assert f"confidence {round(verdict['confidence'] * 100)}%" in shown
    reasons = page.locator("p.verdict + ul > li").all_inner_texts()
    assert reasons == verdict["reasons"]

    assert page.get_by_role("heading", name="Checklist", exact=True).is_visible()
    rows = page.locator("h2:text-is('Checklist') + table > tbody > tr")
    assert len(report["checklist"]) > 0
    assert rows.count() == len(report["checklist"])
    for i, item in enumerate(report["checklist"]):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells == [item["name"], item["state"], item["sentence"]]


def test_flush_windows_drawn(loaded: Loaded) -> None:
    page, events = loaded.page, loaded.report["events"]
    assert len(events) > 0
    shapes = page.evaluate(
        "() => document.querySelector('.js-plotly-plot').layout.shapes"
        ".map(s => ({type: s.type, yref: s.yref}))"
    )
    assert len(shapes) >= len(events)
    # one shaded rectangle per flush window, one more for the judged flush (the key levels
    # are the horizontal lines)
    windows = [s for s in shapes if s["type"] == "rect"]
    assert len(windows) == len(events) + 1
    assert len(shapes) - len(windows) == len(loaded.report["levels"])
    # and drawn in the SVG at real coordinates: a path with NaN is a shape Plotly could not
    # place (e.g. nanosecond timestamps read as milliseconds on a date axis)
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot .shapelayer path'))
            .map(p => { const b = p.getBBox();
                        return {d: p.getAttribute('d') || '', w: b.width, h: b.height}; })"""
    )
    assert len(drawn) >= len(shapes)
    broken = [p["d"][:60] for p in drawn if "NaN" in p["d"] or "undefined" in p["d"]]
    assert broken == []
    visible_rects = [p for p in drawn if p["w"] > 0 and p["h"] > 0 and "Z" in p["d"]]
    assert len(visible_rects) >= len(events)
    found = page.locator("h2:text-is('Flushes found') + table > tbody > tr")
    assert found.count() == len(events)


def test_screenshot_is_a_real_png(loaded: Loaded) -> None:
    data = loaded.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000


def test_opens_on_the_judged_flush(loaded: Loaded) -> None:
    """Six months of candles hid the flush: the view opens on it, marked, with readable bars."""
    from flushwatch.domain.time import parse_iso

    page, focus = loaded.page, loaded.report["focus"]
    lo, hi = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.xaxis.range")
    lo_ts, hi_ts = parse_iso(lo[:19]), parse_iso(hi[:19])
    day = 86_400 * 10**9
    assert lo_ts <= focus["start_ts"]
    assert focus["end_ts"] <= hi_ts
    assert hi_ts - lo_ts <= 10 * day  # days, not the six months the store holds
    assert hi_ts == loaded.report["as_of_ts"] + 3_600 * 10**9
    notes = page.evaluate(
        "() => document.querySelector('.js-plotly-plot').layout.annotations.map(a => a.text)"
    )
    assert "judged flush" in notes
    # the liquidation panel's y range is fitted to the bars in view, not to the whole history
    y2 = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.yaxis2.range")
    assert y2 is not None
    assert y2[1] > 0
    assert y2[0] == -y2[1]
