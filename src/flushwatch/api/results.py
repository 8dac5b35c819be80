"""What the use cases return: frozen, typed results with one JSON shape and their tables.

Every result has ``to_dict()`` — exactly what the matching command prints with ``--json``
(plain JSON types; NaN and infinities become ``None``) — and ``frames()``, its tables as
Polars frames for a notebook. Nothing in ``to_dict()`` depends on the wall clock or on data
after the as-of time, so the same question gives the same answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import polars as pl

if TYPE_CHECKING:
    from flushwatch.analytics.backtest_map import BacktestResult
    from flushwatch.analytics.cascade import CascadeResult, MonteCarloResult
    from flushwatch.analytics.liqmap import LiqMapState
    from flushwatch.analytics.market import F64, MarketSeries
    from flushwatch.analytics.mechanics import LiqResult, TierTable
    from flushwatch.analytics.results import FlushEvent
    from flushwatch.analytics.scorecard import OutcomeScore
    from flushwatch.analytics.stops import StopCluster
    from flushwatch.domain.records import Instrument
    from flushwatch.report.model import FlushReport
    from flushwatch.store import SeriesInfo


def _enc(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def jsonable(obj: Any) -> Any:
    """Plain JSON types: structs and arrays unpacked, NaN/inf → None."""
    return _finite(msgspec.to_builtins(obj, enc_hook=_enc))


def to_json(doc: Any) -> str:
    """Indented JSON text of a ``to_dict()`` document."""
    return msgspec.json.format(msgspec.json.encode(doc), indent=2).decode()


def _table(rows: list[Any]) -> pl.DataFrame:
    """Rows (structs or dicts) as a frame; nested values stay as Polars structs/lists."""
    plain = [jsonable(r) for r in rows]
    return pl.DataFrame(plain, infer_schema_length=None) if plain else pl.DataFrame()


def _market_frame(m: MarketSeries) -> pl.DataFrame:
    cols: dict[str, Any] = {"ts": m.ts}
    for name in (
        "open", "high", "low", "close", "volume_quote", "liq_long", "liq_short", "oi_quote",
        "oi_base", "funding", "spot_close", "spot_volume_quote", "basis", "depth_1pct",
    ):  # fmt: skip
        arr: F64 | None = getattr(m, name)
        if arr is not None:
            cols[name] = arr
    return pl.DataFrame(cols)


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The flush report as of ``report.as_of_ts`` (schema ``flushwatch.report/2``)."""

    report: FlushReport
    #: The assembled series the report was computed from (for charts; not in ``to_dict``).
    market: MarketSeries

    def to_dict(self) -> dict[str, Any]:
        """The ``report --json`` document."""
        out: dict[str, Any] = jsonable(self.report)
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """Bars with every series, events, checklist, key levels, liquidations by hour."""
        r = self.report
        return {
            "market": _market_frame(self.market),
            "events": _table(list(r.events)),
            "checklist": _table(list(r.checklist)),
            "levels": _table(list(r.levels)),
            "risk_box": _table(list(r.risk_box)),
            "liquidations_by_hour": _table(list(r.liquidations.by_hour) if r.liquidations else []),
        }


class Events(msgspec.Struct, frozen=True, kw_only=True):
    """Every flush detected in a window, as of ``as_of_ts``."""

    asset: str
    as_of_ts: int
    sources: dict[str, str]
    events: list[FlushEvent]

    def to_dict(self) -> dict[str, Any]:
        """The ``events --json`` document."""
        from flushwatch.domain.time import iso

        out: dict[str, Any] = jsonable(
            {
                "asset": self.asset,
                "as_of_ts": self.as_of_ts,
                "as_of": iso(self.as_of_ts),
                "sources": self.sources,
                "events": self.events,
            }
        )
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """One row per event."""
        return {"events": _table(list(self.events))}


class LiqMap(msgspec.Struct, frozen=True, kw_only=True):
    """The estimated liquidation map as of a time (every number an estimate)."""

    doc: dict[str, Any]
    market: MarketSeries
    state: LiqMapState
    clusters: list[StopCluster]

    def to_dict(self) -> dict[str, Any]:
        """The ``map --json`` document (shape in :mod:`flushwatch.api.liqmap`)."""
        out: dict[str, Any] = jsonable(self.doc)
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """Non-empty bins, bands near price, cumulative totals by move, stop clusters."""
        d = self.doc
        bands = [{"side": s, **b} for s in ("long", "short") for b in d["bands"][s]]
        return {
            "bins": _table(d["bins"]),
            "bands": _table(bands),
            "cumulative": _table(d["cumulative"]),
            "stops": _table(list(self.clusters)),
        }


class Cascade(msgspec.Struct, frozen=True, kw_only=True):
    """One simulated cascade from a shock, its shock → move curve and Monte Carlo."""

    asset: str
    as_of_ts: int
    map_note: str
    depth_source: str
    depth_estimate: bool
    depth_note: str
    result: CascadeResult
    curve: dict[str, Any]
    monte_carlo: MonteCarloResult | None
    #: Which venues the map's positions and the depth come from (issue 13: labelled).
    venue_note: str = ""

    def raw(self) -> dict[str, Any]:
        """The document with its structs kept (what the terminal and HTML renderers read)."""
        return {
            "asset": self.asset,
            "estimate": True,
            "asof_ns": self.as_of_ts,
            "map_note": self.map_note,
            "depth_source": self.depth_source,
            "depth_estimate": self.depth_estimate,
            "depth_note": self.depth_note,
            "venue_note": self.venue_note,
            "result": self.result,
            "curve": self.curve,
            "monte_carlo": self.monte_carlo,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``cascade --json`` document."""
        out: dict[str, Any] = jsonable(self.raw())
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """The path, the trigger levels and the shock → move curve."""
        doc = self.to_dict()
        res = doc["result"]
        return {
            "path": pl.DataFrame(res["path"]),
            "triggers": _table(res.get("triggers") or []),
            "curve": pl.DataFrame(doc["curve"]),
        }


class MapBacktest(msgspec.Struct, frozen=True, kw_only=True):
    """The liquidation map scored against realized liquidations (and its per-bar series)."""

    result: BacktestResult
    series: dict[str, F64]

    def to_dict(self) -> dict[str, Any]:
        """The ``backtest-map --json`` document."""
        out: dict[str, Any] = jsonable(self.result)
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """Scores per side, level capture per side, and the per-bar predictions."""
        doc = self.to_dict()
        lengths = {len(v) for v in self.series.values()}
        return {
            "sides": _table(doc["sides"]),
            "levels": _table(doc["levels"]),
            "bars": pl.DataFrame(dict(self.series)) if len(lengths) == 1 else pl.DataFrame(),
        }


class MapForecast(msgspec.Struct, frozen=True, kw_only=True):
    """The map scored as a next-day forecast against baselines (issue 13's protocol).

    ``to_dict()`` is ``backtest-map --protocol forecast --json``: ``{"forecast": {...}}`` with
    ``forecast.long`` / ``forecast.short`` (``map_share``, ``baselines``, ``best_baseline``,
    ``diff_ci_low``, ``diff_ci_high``, ``days``, ``out_of_sample``), ``holdout``,
    ``walk_forward``, ``sensitivity`` and the ``statement`` printed even when the map loses.
    """

    result: Any  # flushwatch.api.forecast.ForecastResult
    series: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The ``backtest-map --protocol forecast --json`` document."""
        return {"forecast": jsonable(self.result)}

    def frames(self) -> dict[str, pl.DataFrame]:
        """Per-side scores, the sensitivity table and the captured USD per issue time."""
        doc = self.to_dict()["forecast"]
        return {
            "sides": _table([doc["long"], doc["short"]]),
            "sensitivity": _table(doc["sensitivity"]),
            "days": pl.DataFrame(self.series),
        }


class Scorecard(msgspec.Struct, frozen=True, kw_only=True):
    """Every flush judged point-in-time and scored against simple baselines (``scorecard``).

    ``outcomes.<id>`` pools all assets; ``per_asset`` repeats the scores asset by asset with
    the detector's own card; ``events`` lists each judged flush with its probabilities.
    """

    as_of_ts: int | None
    judge_after_hours: float
    horizons_hours: tuple[float, ...]
    events_scored: int
    outcomes: dict[str, OutcomeScore]
    per_asset: list[dict[str, Any]]
    events: list[dict[str, Any]]
    notes: list[str]
    #: Which outcomes the estimates beat every baseline on, in words (never a claim of skill
    #: the intervals do not support).
    summary: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The ``scorecard --json`` document."""
        out: dict[str, Any] = jsonable(self)
        out["as_of"] = None if self.as_of_ts is None else _iso(self.as_of_ts)
        return out

    def html(self) -> str:
        """The scorecard page (reliability diagrams, per-asset table), self-contained."""
        from flushwatch.report.scorecard_html import render_html

        return render_html(
            outcomes=self.outcomes,
            per_asset=self.per_asset,
            summary=self.summary,
            notes=self.notes,
            events_scored=self.events_scored,
            judge_after_hours=self.judge_after_hours,
            as_of=None if self.as_of_ts is None else _iso(self.as_of_ts),
        )

    def frames(self) -> dict[str, pl.DataFrame]:
        """Pooled scores (one row per outcome), per-asset scores and the judged events."""
        doc = self.to_dict()
        pooled = [{"outcome": k, **_flat(v)} for k, v in doc["outcomes"].items()]
        assets = [
            {"asset": a["asset"], "outcome": k, **_flat(v)}
            for a in doc["per_asset"]
            for k, v in a["outcomes"].items()
        ]
        return {
            "outcomes": _table(pooled),
            "per_asset": _table(assets),
            "events": _table(doc["events"]),
        }


def _flat(score: dict[str, Any]) -> dict[str, Any]:
    """An outcome score without its nested reliability table, the CI split in two columns."""
    ci = score.get("brier_diff_ci") or [None, None]
    keep = {
        k: v
        for k, v in score.items()
        if k not in ("reliability", "baselines", "brier_diff_ci", "band_diff_ci")
    }
    band = score.get("band_diff_ci") or [None, None]
    return {
        **keep,
        "brier_diff_lo": ci[0],
        "brier_diff_hi": ci[1],
        "band_diff_lo": band[0],
        "band_diff_hi": band[1],
        **score.get("baselines", {}),
    }


def _iso(ts: int) -> str:
    from flushwatch.domain.time import iso

    return iso(ts)


class LiqPrice(msgspec.Struct, frozen=True, kw_only=True):
    """Liquidation and bankruptcy price of one position (the venue's published formula)."""

    result: LiqResult
    tiers: TierTable
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The ``liq-price --json`` document."""
        from flushwatch.api.liqprice import to_json as doc

        out: dict[str, Any] = jsonable(doc(self.result, self.tiers, self.warnings))
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """The tier table used."""
        from flushwatch.api.liqprice import tier_dict

        return {"tiers": _table([tier_dict(t, i + 1) for i, t in enumerate(self.tiers.tiers)])}


class StoreInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the store holds: every series with its row count and time range."""

    store: str
    series: list[SeriesInfo]
    instruments: list[Instrument]

    def to_dict(self) -> dict[str, Any]:
        """The ``info --json`` document."""
        out: dict[str, Any] = jsonable(
            {"store": self.store, "series": self.series, "instruments": self.instruments}
        )
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """Series and instruments."""
        return {"series": _table(list(self.series)), "instruments": _table(list(self.instruments))}


class SqlResult(msgspec.Struct, frozen=True, kw_only=True):
    """Rows of one read-only SQL query over the store's views."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def to_dict(self) -> dict[str, Any]:
        """``{"columns": [...], "rows": [{column: value}]}`` (the ``sql --json`` document)."""
        out: dict[str, Any] = jsonable(
            {
                "columns": self.columns,
                "rows": [dict(zip(self.columns, r, strict=True)) for r in self.rows],
            }
        )
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """The rows as one frame."""
        data = {c: [r[i] for r in self.rows] for i, c in enumerate(self.columns)}
        return {"rows": pl.DataFrame(data, strict=False)}
