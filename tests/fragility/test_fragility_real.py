"""``fragility`` like with like on real Binance perp, spot and funding files around 2025-10-10.

A store of six assets (BTC, ETH, SOL, DOGE, ADA, and ENA, whose funding file has a gap over
those days), cut from the freqtrade folder to 2025-09-01 → 2025-10-20; the same files cut at
the as-of time (kept up to and including it) build a second store, for point-in-time
invariance. Expected values are
recomputed here from the raw feather files, not from the store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import flushwatch
from flushwatch.analytics.fragility import INPUTS, AssetInputs, InputSpec, rank_like_with_like
from flushwatch.api import Workspace, to_ns
from flushwatch.api.fragility import fragility
from flushwatch.cli.app import app
from flushwatch.domain.records import Record
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore

FOLDER = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
AT = "2025-10-11T00:00Z"
AT_DT = datetime(2025, 10, 11, tzinfo=UTC)
START = datetime(2025, 9, 1, tzinfo=UTC)
END = datetime(2025, 10, 20, tzinfo=UTC)
FUNDING = {"BTC": "1h", "ETH": "1h", "ADA": "1h", "SOL": "8h", "DOGE": "8h", "ENA": "8h"}
SPOT = ("BTC", "ETH", "ADA")
PRICE_INPUTS = ["wick_pct", "drawdown_24h_pct", "realised_vol_pct", "beta_btc"]


def _files(shared: Path) -> list[tuple[str, str]]:
    out = [(f"futures/{a}_USDT_USDT-1h-futures.feather", a) for a in FUNDING]
    out += [(f"futures/{a}_USDT_USDT-{tf}-funding_rate.feather", a) for a, tf in FUNDING.items()]
    out += [(f"spot/{a}_USDT-1h.feather", a) for a in SPOT]
    return [(str(shared / FOLDER / rel), a) for rel, a in out]


def _build(shared: Path, tmp: Path, end: datetime) -> Path:
    parsed = []
    for path, _ in _files(shared):
        # a funding rate settled at the cut is knowable then: keep it (``<=``)
        df = pl.read_ipc(path).filter((pl.col("date") >= START) & (pl.col("date") <= end))
        cut = tmp / "files" / Path(path).parent.name / Path(path).name
        cut.parent.mkdir(parents=True, exist_ok=True)
        df.write_ipc(cut)
        parsed.append(parse(cut))
    root = tmp / "store"
    Store.open(root).write(parsed)
    return root


@pytest.fixture(scope="session")
def stores(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The full store (to 2025-10-20) and the one cut at the as-of time."""
    full = _build(shared_data, tmp_path_factory.mktemp("frag-full"), END)
    cut = _build(shared_data, tmp_path_factory.mktemp("frag-cut"), AT_DT)
    return full, cut


@pytest.fixture(scope="session")
def doc(stores: tuple[Path, Path]) -> dict[str, object]:
    ws: Workspace = flushwatch.open(stores[0])
    out: dict[str, object] = ws.fragility(at=AT).to_dict()
    return out


def _perp(shared: Path, asset: str) -> pl.DataFrame:
    return pl.read_ipc(shared / FOLDER / "futures" / f"{asset}_USDT_USDT-1h-futures.feather")


def _wick(shared: Path, asset: str) -> float:
    """Largest low-vs-previous-close drop of the bars opened in the 24 h before AT, in %."""
    df = _perp(shared, asset).with_columns(pl.col("close").shift(1).alias("prev"))
    day = df.filter((pl.col("date") >= AT_DT - timedelta(hours=24)) & (pl.col("date") < AT_DT))
    assert day.height == 24
    return float(((day["low"] / day["prev"] - 1.0) * 100.0).min())  # type: ignore[arg-type]


def _quote_24h(path: Path) -> float:
    df = pl.read_ipc(path)
    day = df.filter((pl.col("date") >= AT_DT - timedelta(hours=24)) & (pl.col("date") < AT_DT))
    return float((day["volume"] * day["close"]).sum())


def test_ranked_on_the_inputs_all_have_and_the_rest_set_apart(doc: dict[str, object]) -> None:
    assert doc["bars"] == "binanceusdm perp trade bars, 1h"
    assert doc["inputs_used"] == [*PRICE_INPUTS, "funding_z"]  # perp/spot: only 3 of 6 have it
    assert "percentile ranks" in str(doc["method"])
    markets = doc["markets"]
    assert isinstance(markets, list)
    assert sorted(m["asset"] for m in markets) == ["ADA", "BTC", "DOGE", "ETH", "SOL"]
    for m in markets:
        assert set(doc["inputs_used"]) <= set(m["components"])  # type: ignore[arg-type]
        assert m["score"] == pytest.approx(np.mean(list(m["pct_ranks"].values())), abs=1e-15)
    assert [m["rank"] for m in markets] == [1, 2, 3, 4, 5]
    assert [m["score"] for m in markets] == sorted((m["score"] for m in markets), reverse=True)
    (ena,) = doc["apart"]  # type: ignore[misc]
    assert ena["asset"] == "ENA"
    assert ena["lacks"] == ["funding_z"]  # its 8h funding file has no rows over these days
    assert set(PRICE_INPUTS) <= set(ena["components"])
    assert any("funding z not available" in n for n in ena["notes"])


def test_values_match_the_raw_files(doc: dict[str, object], shared_data: Path) -> None:
    by = {m["asset"]: m["components"] for m in doc["markets"]}  # type: ignore[attr-defined]
    for asset in ("ADA", "BTC", "SOL"):
        assert by[asset]["wick_pct"] == pytest.approx(_wick(shared_data, asset), rel=1e-12)
    assert by["ADA"]["wick_pct"] == pytest.approx(-61.76, abs=0.01)  # 2025-10-10 21:00
    assert by["BTC"]["beta_btc"] == pytest.approx(1.0, rel=1e-12)
    perp = _quote_24h(shared_data / FOLDER / "futures" / "BTC_USDT_USDT-1h-futures.feather")
    spot = _quote_24h(shared_data / FOLDER / "spot" / "BTC_USDT-1h.feather")
    assert by["BTC"]["perp_spot_volume"] == pytest.approx(perp / spot, rel=1e-9)
    assert "perp_spot_volume" not in by["SOL"]  # no SOL spot file: not available, not guessed


def test_majors_against_alts(doc: dict[str, object]) -> None:
    groups = {g["group"]: g for g in doc["groups"]}  # type: ignore[attr-defined]
    assert groups["major"]["assets"] == ["BTC", "ETH"]  # the two largest 30-day quote volumes
    assert groups["alt"]["assets"] == ["ADA", "DOGE", "ENA", "SOL"]
    major, alt = groups["major"]["median"], groups["alt"]["median"]
    assert major["wick_pct"] > -13  # the 2025-10-10 wicks: majors shallow ...
    assert alt["wick_pct"] < -45  # ... alts deep
    assert alt["beta_btc"] > major["beta_btc"]
    ranks = {m["asset"]: m["rank"] for m in doc["markets"]}  # type: ignore[attr-defined]
    assert max(ranks["BTC"], ranks["ETH"]) > max(ranks["DOGE"], ranks["ADA"])


def test_the_same_answer_with_or_without_later_data(stores: tuple[Path, Path]) -> None:
    full, cut = (flushwatch.open(s) for s in stores)
    assert full.fragility(at=AT).to_dict() == cut.fragility(at=AT).to_dict()
    later = full.fragility(at="2025-10-15T00:00Z").to_dict()
    assert later != full.fragility(at=AT).to_dict()  # the as-of time is what moves it


def test_cli_json_and_an_80_column_table(stores: tuple[Path, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["fragility", "--store", str(stores[0]), "--at", AT]
    r = runner.invoke(app, [*base, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {
        "estimate", "as_of_ts", "bars", "method", "inputs_used", "inputs", "markets", "apart",
        "groups",
    }  # fmt: skip
    assert [i["name"] for i in out["inputs"]] == [s.name for s in INPUTS]
    assert {"rank", "asset", "group", "score", "components", "pct_ranks", "missing"} <= set(
        out["markets"][0]
    )
    page = tmp_path / "f.html"
    r = runner.invoke(app, [*base, "--html", str(page)], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    for shown in ("wick", "Set apart", "ENA (funding_z)"):
        assert shown in r.stdout
    text = page.read_text(encoding="utf-8")
    for shown in ("Fragility ranking, like with like", "wick_pct", "ENA"):
        assert shown in text
    r = runner.invoke(app, [*base, "--wide"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "perp_spot_volume" in r.stdout


def test_one_more_named_input_is_one_more_spec() -> None:
    """A later input (e.g. wash-trading suspicion) joins the ranking once all assets have it."""
    extra = (*INPUTS, InputSpec(name="wash", abbrev="wash", unit="", fragile="high", about="x"))
    rows = [
        AssetInputs(asset="A", values={"wick_pct": -50.0, "wash": 0.1}),
        AssetInputs(asset="B", values={"wick_pct": -10.0, "wash": 0.9}),
        AssetInputs(asset="C", values={"wick_pct": -30.0, "wash": 0.5}),
    ]
    out = rank_like_with_like(rows, specs=extra)
    assert out.inputs == ["wick_pct", "wash"]
    assert [(r.asset, r.score) for r in out.ranked] == [("A", 0.5), ("B", 0.5), ("C", 0.5)]
    assert rank_like_with_like(rows, specs=INPUTS).inputs == ["wick_pct"]


class _Counting:
    """A real as-of reader that counts its reads per dataset."""

    def __init__(self, inner: AsOfStore) -> None:
        self.inner = inner
        self.reads: list[str] = []

    def read(self, cls: type[Record], **kw: Any) -> pl.DataFrame:
        self.reads.append(cls.dataset)
        return self.inner.read(cls, **kw)


def test_one_read_per_dataset_for_all_assets(stores: tuple[Path, Path]) -> None:
    reader = _Counting(AsOfStore(Store.open(stores[0], create=False), to_ns(AT, "at")))
    seen: list[tuple[str, int, int]] = []
    names = ["ADA", "BTC", "DOGE", "ENA", "ETH", "SOL"]
    out = fragility(reader, names, as_of_ns=to_ns(AT, "at"), progress=lambda *a: seen.append(a))
    assert sorted(reader.reads) == sorted(
        [
            "bars",
            "funding",
            "open_interest",
            "depth_bands",
            "liquidation_buckets",
            "liquidations",
            "trades",
        ]
    )
    assert out.to_dict() == flushwatch.open(stores[0]).fragility(at=AT).to_dict()
    assert [i for _, i, _ in seen] == list(range(len(seen)))  # the bar only moves forward
    assert {n for _, _, n in seen} == {7 + len(names)}
    assert seen[-2:] == [("inputs of SOL", 12, 13), ("ranked", 13, 13)]
