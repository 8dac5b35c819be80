"""The "Trade-print suspicion" section of the report page and the dashboard's Asset page."""

from __future__ import annotations

from pathlib import Path

from flushwatch.api.wash import trade_prints_section
from flushwatch.api.workspace import Workspace
from flushwatch.report.wash_html import trade_prints_html
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore
from flushwatch.testing.real import store_for
from flushwatch.web.asset_sections import report_sections

from .conftest import CUT_NS

COINGLASS = ("coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv",)


def test_section_from_real_prints(wash_store: Store) -> None:
    section = trade_prints_section(AsOfStore(wash_store, CUT_NS), "BTC", as_of_ns=CUT_NS)
    assert section is not None
    assert section.label == "suspicion"
    assert section.window_s == 86_400
    assert sorted(v.exchange for v in section.venues) == ["binance", "binancecoinm", "binanceusdm"]
    page = trade_prints_html(section)
    assert page.startswith("<h2>Trade-print suspicion</h2>")
    assert "binanceusdm perp BTCUSDT" in page
    assert "matched_pairs" in page
    assert "not a finding of wash trading" in page
    assert "detected wash trading" not in page


def test_not_available_without_prints(shared_data: Path) -> None:
    assert shared_data.is_dir()
    rep = Workspace(store_for(COINGLASS)).report("BTC", at="2026-02-07T00:00Z")
    assert rep.report.trade_prints is None
    assert rep.to_dict()["trade_prints"] is None
    html = "".join(report_sections(rep))
    assert (
        "<h2>Trade-print suspicion</h2><p class='note'>not available: no trade prints in the "
        "window before the as-of time</p>"
    ) in html
