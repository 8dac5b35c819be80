"""``flushwatch serve``: the dashboard served by a real uvicorn on 127.0.0.1, driven by httpx
and by Debian's Chromium through Playwright.

The store holds the real CoinGlass hourly BTC file (the 2026-02-05/06 long flush). Every page
is loaded with each request that does not go to the server aborted and recorded; the API's
answers are compared with the workspace's own ``to_dict()``; the Live page is watched while
liquidation prints are written through the recorder's store path and an alert is appended
by the JSONL alert sink. Screenshots at 1400 px go to ``$FLUSHWATCH_ARTIFACTS`` (else the test's
temporary folder). A missing Chromium skips locally and fails under CI=true.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, sync_playwright
from typer.testing import CliRunner

import flushwatch
from flushwatch.api import Workspace
from flushwatch.cli.app import app as cli
from flushwatch.domain.time import iso
from flushwatch.errors import InputError
from flushwatch.testing.browser import CHROMIUM, CHROMIUM_FLAGS, need_chromium
from flushwatch.testing.dashboard import dashboard_server
from flushwatch.web import create_app

FILE = ("coinglass-btc-liq-oi-funding-2025-2026", "btc_regime_1h_2025-12-04_2026-06-02.csv")
DURING = "2026-02-06T00:00"  # the long flush of 2026-02-05 has ended, the bounce has not
AFTER = "2026-02-07T00:00"  # the README's as-of time
TOKEN = "test-token-0123456789abcdef"
TIMEOUT_MS = 30_000
LOOPBACK = "http://127.0.0.1:"


@dataclass
class Site:
    """The served store and where its pages and screenshots go."""

    base: str
    root: Path
    ws: Workspace
    shots: Path


@dataclass
class Browser:
    """One Chromium context for every page test, with what left the server."""

    context: BrowserContext
    blocked: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def site(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Import the real file into a fresh store and serve it on a free loopback port."""
    from flushwatch.ingest.registry import parse
    from flushwatch.store import Store

    root = tmp_path_factory.mktemp("dashboard") / "store"
    Store.open(root).write([parse(shared_data.joinpath(*FILE))])
    shots = Path(os.environ.get("FLUSHWATCH_ARTIFACTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with dashboard_server(create_app(root, live_poll_s=0.25)) as base:
        yield Site(base=base, root=root, ws=flushwatch.open(root), shots=shots)


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base, timeout=60) as c:
        yield c


def _same(got: Any, doc: dict[str, Any]) -> bool:
    """Equal as JSON (tuples are lists on the wire)."""
    return bool(got == json.loads(msgspec.json.encode(doc)))


# -- the JSON API -----------------------------------------------------------------------------
def test_api_routes_answer_the_workspace(site: Site, client: httpx.Client) -> None:
    ws = site.ws
    cases = [
        ("/api/report/BTC", {"at": DURING}, lambda: ws.report("BTC", at=DURING)),
        ("/api/events/BTC", {"at": AFTER}, lambda: ws.events("BTC", at=AFTER)),
        ("/api/map/BTC", {"at": AFTER}, lambda: ws.map("BTC", at=AFTER)),
        ("/api/fragility", {"at": AFTER}, lambda: ws.fragility(at=AFTER)),
        ("/api/scorecard", {}, ws.scorecard),
        ("/api/info", {}, ws.info),
    ]
    for path, params, call in cases:
        r = client.get(path, params=params)
        assert r.status_code == 200, (path, r.text[:300])
        assert r.headers["content-type"] == "application/json"
        assert _same(r.json(), call().to_dict()), path
    report = client.get("/api/report/BTC", params={"at": AFTER}).json()
    assert report["schema"] == "flushwatch.report/2"
    assert report["as_of"] == "2026-02-07T00:00:00Z"
    assert report["focus"]["kind"] == "long_flush"


def test_api_errors_are_400_with_the_message(site: Site, client: httpx.Client) -> None:
    # no depth in a CoinGlass-only store: the cascade says so instead of guessing
    r = client.get("/api/cascade/BTC", params={"shock": "-3%", "at": AFTER})
    assert r.status_code == 400
    with pytest.raises(InputError) as err:
        site.ws.cascade("BTC", shock="-3%", at=AFTER)
    assert r.json() == {"error": str(err.value), "kind": "InputError"}
    r = client.get("/api/report/BTC", params={"at": "2019-01-01"})
    assert r.status_code == 400
    assert "outside the store's data" in r.json()["error"]
    assert client.get("/api/report/ETH").json()["kind"] == "InputError"
    assert client.get("/api/map/BTC", params={"bins": 5}).status_code == 422  # FastAPI's own


def test_openapi_lists_every_route_and_nothing_writes(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/api/report/{asset}", "/api/events/{asset}", "/api/map/{asset}",
        "/api/cascade/{asset}", "/api/fragility", "/api/scorecard", "/api/info", "/api/live",
    } == paths  # fmt: skip
    assert {m for ops in spec["paths"].values() for m in ops} == {"get"}  # read-only, no SQL
    assert "sql" not in json.dumps(spec).lower()
    for path in ("/docs/oauth2-redirect", "/redoc", "/api/sql"):
        assert client.get(path).status_code == 404


def test_plotly_is_served_from_the_installed_package(client: httpx.Client) -> None:
    import plotly

    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    r = client.get("/vendor/plotly.min.js")
    assert r.status_code == 200
    assert r.content == shipped.read_bytes()


# -- who may connect ----------------------------------------------------------------------
def test_token_required_on_loopback_when_set(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    with (
        dashboard_server(create_app(site.root, token=TOKEN)) as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        assert c.get("/api/info").status_code == 401
        assert c.get("/").status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert c.get("/api/info", headers=wrong).status_code == 401
        right = {"Authorization": f"Bearer {TOKEN}"}
        r = c.get("/api/info", headers=right)
        assert r.status_code == 200
        assert r.json()["store"] == str(site.root)
        assert (TOKEN.encode(), TOKEN.encode()) in compared  # hmac.compare_digest decided
        # a browser: ?token= once sets an HttpOnly cookie and drops the token from the URL
        r = c.get("/asset/BTC", params={"token": TOKEN, "at": AFTER})
        assert r.status_code == 303
        assert r.headers["location"] == "/asset/BTC?at=2026-02-07T00%3A00"
        cookie = r.headers["set-cookie"]
        assert "flushwatch_token=" in cookie
        assert "httponly" in cookie.lower()
        assert "samesite=strict" in cookie.lower()
        assert c.get("/api/info").status_code == 200  # the cookie now carries it
        c.cookies.clear()
        assert c.get("/api/info", params={"token": "nope"}).status_code == 401


def test_without_a_token_only_loopback_hosts_are_answered(client: httpx.Client) -> None:
    assert client.get("/api/info", headers={"Host": "localhost:8765"}).status_code == 200
    r = client.get("/api/info", headers={"Host": "attacker.example"})  # DNS rebinding
    assert r.status_code == 400


def test_non_loopback_host_without_token_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before anything binds (so no test ever listens on 0.0.0.0)."""
    from flushwatch.web.security import check_bind

    monkeypatch.delenv("FLUSHWATCH_TOKEN", raising=False)
    r = CliRunner().invoke(cli, ["serve", "--store", str(site.root), "--host", "0.0.0.0"])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: --host 0.0.0.0 would expose the dashboard")
    assert "FLUSHWATCH_TOKEN" in lines[0]
    r = CliRunner().invoke(cli, ["serve", "--store", str(site.root), "--token", "x"])
    assert r.exit_code == 2  # a token is never an option
    check_bind("0.0.0.0", TOKEN)  # with a token the bind is allowed (not bound here)
    check_bind("::1", None)


# -- the pages in a real browser --------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    need_chromium()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900},
            service_workers="block",
        )
        state = Browser(context=context)

        def gate(route: Route) -> None:
            if route.request.url.startswith(LOOPBACK):  # this module's servers only
                route.continue_()
            else:
                state.blocked.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", gate)
        context.on("websocket", lambda ws: state.blocked.append(ws.url))
        try:
            yield state
        finally:
            context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh tab and its console errors (checked empty after the test)."""
    tab = browser.context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(f"console: {msg.text} ({msg.location})")

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    yield tab, errors
    tab.close()
    assert errors == []
    assert browser.blocked == []


def _charts(tab: Page) -> dict[str, int]:
    """Every embedded chart's id → its number of traces (each must have been drawn)."""
    tab.wait_for_function(
        "() => [...document.querySelectorAll('div.chart')]"
        ".every(d => d.classList.contains('js-plotly-plot'))"
    )
    drawn: dict[str, int] = tab.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('div.chart')].map(
            d => [d.id, d.querySelectorAll('.main-svg .trace').length > 0 ? d.data.length : 0]))"""
    )
    bad = tab.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot .trace path')]
            .map(p => p.getAttribute('d') || '').filter(d => d.includes('NaN')).length"""
    )
    assert bad == 0
    return drawn


def test_overview_page(site: Site, page: tuple[Page, list[str]]) -> None:
    tab, _ = page
    tab.goto(site.base + "/")
    drawn = _charts(tab)
    assert drawn == {"liq-hour-BTC": 2}  # longs up, shorts down, one source
    latest = site.ws.report("BTC").to_dict()
    card = tab.locator(".asset-card[data-asset=BTC]")
    assert f"as of {latest['as_of']}" in card.inner_text()
    verdict = latest["verdict"]
    shown = f"{verdict['name'].replace('_', ' ')} ({verdict['confidence']:.0%})"
    assert card.locator(".verdict-name").inner_text() == shown
    markets = site.ws.fragility().to_dict()["markets"]
    assert tab.locator("table.fragility tbody tr").count() == len(markets) == 1
    venue = tab.locator("h2:text-is('Liquidations by venue') + table tbody tr")
    assert venue.count() == len(latest["liquidations"]["by_venue"])
    tab.screenshot(path=str(site.shots / "overview.png"), full_page=True)


def test_asset_page_as_of_picker_changes_the_verdict(
    site: Site, page: tuple[Page, list[str]]
) -> None:
    tab, _ = page
    tab.goto(site.base + "/asset/BTC")
    assert tab.locator("#as-of").inner_text() == site.ws.report("BTC").report.as_of
    seen = {}
    for when in (DURING, AFTER):
        tab.fill("#at", when)
        with tab.expect_navigation():
            tab.click("#show")
        assert tab.locator("#as-of").inner_text() == when + ":00Z"
        seen[when] = tab.locator("#verdict").get_attribute("data-verdict")
        expected = site.ws.report("BTC", at=when).report.verdict
        assert expected is not None
        assert seen[when] == expected.name
    assert seen == {DURING: "flush_turning_into_trend", AFTER: "clean_reset"}

    drawn = _charts(tab)
    assert set(drawn) == {"report-chart", "map-chart"}
    assert drawn["report-chart"] >= 5  # candles, longs, shorts, OI, funding
    assert drawn["map-chart"] >= 5  # heatmap, close, map now, both cumulative curves
    # the judged flush is marked and the chart opens on it
    judged = tab.evaluate(
        """() => { const l = document.getElementById('report-chart').layout;
            return {range: l.xaxis.range,
                    marks: l.annotations.filter(a => a.text === 'judged flush').length}; }"""
    )
    assert judged["marks"] == 1
    focus = site.ws.report("BTC", at=AFTER).report.focus
    assert focus is not None
    assert judged["range"][0] < iso(focus.start_ts)[:10]
    assert judged["range"][1].startswith("2026-02-07")
    # key-level labels never overlap: no two closer than a label's height on screen
    gaps = tab.evaluate(
        """() => { const ys = [...document.querySelectorAll('#report-chart .annotation')]
            .filter(a => a.textContent.includes('(')).map(a => a.getBoundingClientRect())
            .sort((a, b) => a.top - b.top);
          return ys.slice(1).map((r, i) => r.top - ys[i].bottom); }"""
    )
    assert gaps
    assert min(gaps) >= 0
    # the cascade says why it is not available (no depth in a CoinGlass-only store)
    assert "cascade: not available" in tab.locator("p.na").last.inner_text()
    assert tab.locator("table.checklist tbody tr").count() == len(
        site.ws.report("BTC", at=AFTER).report.checklist
    )
    tab.screenshot(path=str(site.shots / "asset.png"), full_page=True)


def test_scorecards_page(site: Site, page: tuple[Page, list[str]]) -> None:
    tab, _ = page
    tab.goto(site.base + "/scorecards")
    drawn = _charts(tab)
    assert set(drawn) == {"scorecard-chart", "forecast-chart", "nowcast-chart"}
    assert all(n > 0 for n in drawn.values())
    card = site.ws.scorecard()
    assert tab.locator("table.outcomes tbody tr").count() == len(card.outcomes)
    assert tab.locator("#scored").inner_text().startswith(f"{card.events_scored} flushes on 1 ")
    statement = site.ws.forecast_map("BTC").to_dict()["forecast"]["statement"]
    assert tab.get_by_text(statement).count() == 1
    # the nowcast prints the terminal's numbers, and its chart has no empty panel
    bt = site.ws.backtest_map("BTC").result
    first = tab.locator("table.nowcast tbody tr").first.locator("td").all_inner_texts()
    share = bt.sides[0].map_capture
    assert first[:3] == [
        "long", str(bt.sides[0].n),
        f"{100 * share.share:.1f}% [{100 * share.ci_low:.1f}%–{100 * share.ci_high:.1f}%]",
    ]  # fmt: skip
    panels = tab.evaluate(
        """() => { const l = document.getElementById('nowcast-chart').layout;
            const d = document.getElementById('nowcast-chart').data;
            const used = new Set(d.map(t => t.xaxis || 'x'));
            return Object.keys(l).filter(k => k.startsWith('xaxis') && l[k].visible !== false)
              .map(k => used.has('x' + k.slice(5))); }"""
    )
    assert panels
    assert all(panels)
    tab.screenshot(path=str(site.shots / "scorecards.png"), full_page=True)


def test_docs_page_lists_the_api(site: Site, page: tuple[Page, list[str]]) -> None:
    tab, _ = page
    tab.goto(site.base + "/docs")
    paths = tab.locator("table.routes tbody tr td:nth-child(2)").all_inner_texts()
    assert "/api/report/{asset}" in paths
    assert "/api/live" in paths


@dataclass
class _Batch:
    records: list[Any]
    files: set[Path] = field(default_factory=set)


def test_live_page_updates_as_the_store_grows(
    site: Site, page: tuple[Page, list[str]], tmp_path: Path
) -> None:
    from flushwatch.alerts.jsonl import JsonlFile
    from flushwatch.alerts.rules import Alert
    from flushwatch.domain.enums import Coverage, Market, PositionSide
    from flushwatch.domain.records import Liquidation
    from flushwatch.live.storewrite import write_batch
    from flushwatch.store import Store

    tab, _ = page
    tab.goto(site.base + "/live")
    tab.wait_for_function("() => document.getElementById('status').textContent.startsWith('conn')")
    assert tab.locator("#liquidations tbody tr").count() == 0  # CoinGlass: buckets, no prints
    now = time.time_ns()
    prints = [
        Liquidation(ts_event=now + i * 10**6, exchange="binanceusdm", market=Market.PERP,
                    symbol="BTCUSDT", side=side, price=price, qty=qty, notional=price * qty,
                    venue_side="SELL" if side == PositionSide.LONG else "BUY",
                    coverage=Coverage.THROTTLED, ts_recv=now + i * 10**6)
        for i, (side, price, qty) in enumerate(
            [(PositionSide.LONG, 60_000.0, 2.0), (PositionSide.LONG, 59_990.0, 0.5),
             (PositionSide.SHORT, 60_100.0, 1.0)]
        )
    ]  # fmt: skip
    added, error = write_batch(Store.open(site.root), tmp_path / "batch.json", _Batch(prints), [])
    assert (added, error) == (3, None)
    tab.wait_for_function("() => document.querySelectorAll('#liquidations tbody tr').length === 3")
    top = tab.locator("#liquidations tbody tr").first.locator("td").all_inner_texts()
    assert top[1:] == ["binanceusdm", "BTCUSDT", "short", "60100.0", "$60,100", "throttled"]
    tab.wait_for_function("() => document.getElementById('total-long').textContent === '$149,995'")
    assert tab.locator("#total-short").inner_text() == "$60,100"
    assert tab.locator("#total-count").inner_text() == "3"
    assert tab.locator("#lower-bound").is_visible()  # throttled feed: totals are floors

    alert = Alert(
        rule="big", kind="liquidations_over", key="big|BTCUSDT|x", symbol="BTCUSDT", ts=now,
        title="BTCUSDT liquidations", text="$149,995 of long liquidations",
    )  # fmt: skip
    JsonlFile(site.root / "alerts.jsonl").append(alert)
    tab.wait_for_function("() => document.querySelectorAll('#alerts tbody tr').length === 1")
    cells = tab.locator("#alerts tbody tr").first.locator("td").all_inner_texts()
    assert cells[1:] == ["BTCUSDT liquidations", "$149,995 of long liquidations"]
    tab.screenshot(path=str(site.shots / "live.png"), full_page=True)


# -- a simulated store: the cascade, and the label ------------------------------------------
@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The market simulator's day (books, depth, trades): every chart of the Asset page."""
    root = tmp_path_factory.mktemp("simulated") / "store"
    made = CliRunner().invoke(cli, ["simulate", "--store", str(root), "--json"])
    assert made.exit_code == 0, made.stderr
    shots = Path(os.environ.get("FLUSHWATCH_ARTIFACTS") or tmp_path_factory.mktemp("shots"))
    with dashboard_server(create_app(root)) as base:
        yield Site(base=base, root=root, ws=flushwatch.open(root), shots=shots)


def test_simulated_store_cascade_and_label(simulated: Site, page: tuple[Page, list[str]]) -> None:
    tab, _ = page
    casc = simulated.ws.cascade("BTC", shock="-3%")
    with httpx.Client(base_url=simulated.base, timeout=60) as c:
        r = c.get("/api/cascade/BTC", params={"shock": "-3%"})
    assert r.status_code == 200
    assert _same(r.json(), casc.to_dict())
    tab.goto(simulated.base + "/asset/BTC")
    assert tab.locator(".sim").inner_text().startswith("SIMULATED DATA")
    drawn = _charts(tab)
    assert set(drawn) == {"report-chart", "map-chart", "cascade-chart"}
    assert drawn["cascade-chart"] == 5  # curve, no-cascade line, path, liquidated, gain G
    head = tab.locator("#cascade-head").inner_text()
    assert head.startswith(f"A {casc.result.shock_move_pct:+.2f}% shock ends at ")
    assert f"{casc.result.final_move_pct:+.2f}%" in head
    tab.screenshot(path=str(simulated.shots / "asset-simulated.png"), full_page=True)
