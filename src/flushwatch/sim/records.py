"""Turn a simulation into the product's own records and write them into a store.

Every row carries ``exchange = "simulated"`` (:data:`EXCHANGE`): that is the marker, so a
simulated row can never be mistaken for, or merged with, a venue's data, and ``flushwatch
sql "select ... where exchange = 'simulated'"`` finds them all. Datasets written:

=================  ==========================================================================
bars               perp and spot trade-price bars of ``bar_minutes`` (volumes, taker buys)
trades             two aggregate prints per minute and market (taker buys at their average
                   price, taker sells at the minute's close): the simulator does not keep
                   individual orders
liquidations       every liquidation, coverage ``complete`` (the simulator sees them all);
                   ``price`` is the bankruptcy price (the IOC order), ``avg_price`` the fill
open_interest      every ``bar_minutes``: one-sided OI in base units and at the mark
funding            settlements at 00/08/16 UTC (``is_settled``) and the predicted rate every
                   ``bar_minutes`` in between
mark_price         mark, index and last price every minute
book               snapshots of ``book_levels`` levels a side every ``snapshot_minutes``
depth_bands        cumulative depth within ±0.1/0.5/1/2/4/10 % at each snapshot
=================  ==========================================================================

The write goes through :meth:`flushwatch.store.Store.write` like any import; its ledger entry
points at a JSON manifest (the parameters of the run) under ``<store>/simulations/``.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import polars as pl

from flushwatch.domain.enums import Margin, Market
from flushwatch.domain.records import (
    Bar,
    BookUpdate,
    DepthBand,
    Funding,
    Instrument,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Record,
    Trade,
)
from flushwatch.ingest.base import Parsed
from flushwatch.sim.book import cum_depth, level_quantities
from flushwatch.sim.market import SimResult
from flushwatch.store import ImportSummary, Store

__all__ = ["EXCHANGE", "parsed_from_result", "write_result"]

EXCHANGE = "simulated"
_MIN_NS = 60 * 10**9
_BANDS = (0.1, 0.5, 1.0, 2.0, 4.0, 10.0)


def _common(ts: np.ndarray, market: Market, symbol: str) -> dict[str, object]:
    return {"ts_event": ts, "exchange": EXCHANGE, "market": str(market), "symbol": symbol}


def _bars(r: SimResult, which: str) -> pl.DataFrame:
    p = r.params
    ohlc = r.perp if which == "perp" else r.spot
    vol = r.perp_volume if which == "perp" else r.spot_volume
    buy = r.perp_taker_buy if which == "perp" else r.spot_taker_buy
    df = pl.DataFrame(
        {
            "ts": r.ts,
            "o": ohlc[:, 0],
            "h": ohlc[:, 1],
            "l": ohlc[:, 2],
            "c": ohlc[:, 3],
            "v": vol,
            "vq": vol * ohlc[:, 3],
            "b": buy,
            "bq": buy * ohlc[:, 3],
        }
    )
    step = p.bar_minutes * _MIN_NS
    out = (
        df.group_by(((pl.col("ts") - int(r.ts[0])) // step * step + int(r.ts[0])).alias("ts_event"))
        .agg(
            pl.col("o").first().alias("open"),
            pl.col("h").max().alias("high"),
            pl.col("l").min().alias("low"),
            pl.col("c").last().alias("close"),
            pl.col("v").sum().alias("volume_base"),
            pl.col("vq").sum().alias("volume_quote"),
            pl.col("b").sum().alias("taker_buy_base"),
            pl.col("bq").sum().alias("taker_buy_quote"),
        )
        .sort("ts_event")
    )
    return out.with_columns(
        pl.lit(EXCHANGE).alias("exchange"),
        pl.lit(which).alias("market"),
        pl.lit(p.symbol).alias("symbol"),
        pl.lit("trade").alias("price_kind"),
        pl.lit(p.bar_minutes * 60).alias("interval_s"),
    )


def _trades(r: SimResult) -> pl.DataFrame:
    buy = r.perp_taker_buy
    sell = r.perp_volume - buy
    with np.errstate(invalid="ignore", divide="ignore"):
        buy_px = np.where(buy > 0, r.buy_notional / buy, r.perp[:, 3])
    ts = np.concatenate([r.ts, r.ts + _MIN_NS // 2])
    df = pl.DataFrame(
        {
            **_common(ts, Market.PERP, r.params.symbol),
            "price": np.concatenate([buy_px, r.perp[:, 3]]),
            "qty": np.concatenate([buy, np.maximum(sell, 0.0)]),
            "taker_side": ["buy"] * r.ts.size + ["sell"] * r.ts.size,
        }
    )
    return df.filter(pl.col("qty") > 0).sort("ts_event")


def _liquidations(r: SimResult) -> pl.DataFrame:
    long = r.liq_side > 0
    return pl.DataFrame(
        {
            **_common(r.liq_ts, Market.PERP, r.params.symbol),
            "side": np.where(long, "long", "short"),
            "price": r.liq_price,
            "qty": r.liq_qty,
            "notional": r.liq_qty * r.liq_fill,
            "venue_side": np.where(long, "SELL", "BUY"),
            "coverage": "complete",
            "avg_price": r.liq_fill,
            "status": "FILLED",
        }
    )


def _state(r: SimResult) -> dict[type[Record], pl.DataFrame]:
    p = r.params
    every = np.arange(p.bar_minutes - 1, r.ts.size, p.bar_minutes)
    end = r.ts[every] + _MIN_NS
    oi = pl.DataFrame(
        {
            **_common(end, Market.PERP, p.symbol),
            "oi_base": r.oi_long[every],
            "oi_quote": r.oi_long[every] * r.mark[every],
        }
    )
    settled = set(r.settle_ts.tolist())
    pred = np.array([t not in settled for t in end.tolist()], dtype=bool)
    nxt = (end // (8 * 3600 * 10**9) + 1) * 8 * 3600 * 10**9
    funding = pl.concat(
        [
            pl.DataFrame(
                {
                    **_common(r.settle_ts, Market.PERP, p.symbol),
                    "rate": r.settle_rate,
                    "is_settled": True,
                    "interval_hours": 8.0,
                    "mark_price": r.settle_mark,
                }
            ),
            pl.DataFrame(
                {
                    **_common(end[pred], Market.PERP, p.symbol),
                    "rate": r.funding_pred[every][pred],
                    "is_settled": False,
                    "interval_hours": 8.0,
                    "next_funding_ts": nxt[pred],
                    "mark_price": r.mark[every][pred],
                }
            ),
        ],
        how="diagonal",
    ).sort("ts_event")
    mark = pl.DataFrame(
        {
            **_common(r.ts + _MIN_NS, Market.PERP, p.symbol),
            "mark_price": r.mark,
            "index_price": r.index,
            "last_price": r.perp[:, 3],
        }
    )
    return {OpenInterest: oi, Funding: funding, MarkPrice: mark}


def _book(r: SimResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    p = r.params
    tick = p.tick_bps / 1e4
    book, bands = [], []
    for k in range(p.snapshot_minutes - 1, r.ts.size, p.snapshot_minutes):
        mid, d1, ts = float(r.perp[k, 3]), float(r.depth_1pct[k]), int(r.ts[k]) + _MIN_NS
        qty = level_quantities(mid, d1, p.near_share, p.book_levels, tick)
        steps = np.arange(1, p.book_levels + 1) * tick
        book.append(
            pl.DataFrame(
                {
                    "ts_event": ts,
                    "side": ["bid"] * qty.size + ["ask"] * qty.size,
                    "price": np.concatenate([mid * (1 - steps), mid * (1 + steps)]),
                    "qty": np.concatenate([qty, qty]),
                    "update_id": k,
                }
            )
        )
        pct = np.array([-x for x in _BANDS[::-1]] + list(_BANDS))
        notional = cum_depth(pct / 100.0, d1, p.near_share)
        bands.append(
            pl.DataFrame(
                {"ts_event": ts, "pct": pct, "notional": notional, "depth_base": notional / mid}
            )
        )
    extra = [
        pl.lit(EXCHANGE).alias("exchange"),
        pl.lit("perp").alias("market"),
        pl.lit(p.symbol).alias("symbol"),
    ]
    return (
        pl.concat(book).with_columns(*extra, pl.lit(True).alias("is_snapshot")),
        pl.concat(bands).with_columns(*extra),
    )


def _instruments(symbol: str) -> list[Instrument]:
    base = symbol.removesuffix("USDT")
    return [
        Instrument(
            exchange=EXCHANGE,
            market=Market.PERP,
            symbol=symbol,
            unified=f"{base}/USDT:USDT",
            base=base,
            quote="USDT",
            settle="USDT",
            margin=Margin.LINEAR,
        ),
        Instrument(
            exchange=EXCHANGE,
            market=Market.SPOT,
            symbol=symbol,
            unified=f"{base}/USDT",
            base=base,
            quote="USDT",
            settle=None,
            margin=Margin.NONE,
        ),
    ]


def parsed_from_result(r: SimResult, manifest: Path) -> Parsed:
    """All records of a run as one :class:`Parsed`, its source being ``manifest``."""
    out = Parsed(path=manifest, format="simulated")
    out.add(Bar, pl.concat([_bars(r, "perp"), _bars(r, "spot")], how="diagonal"))
    out.add(Trade, _trades(r))
    out.add(Liquidation, _liquidations(r))
    for cls, df in _state(r).items():
        out.add(cls, df)
    book, bands = _book(r)
    out.add(BookUpdate, book)
    out.add(DepthBand, bands)
    for inst in _instruments(r.params.symbol):
        out.add_instrument(inst)
    out.notes.append(f"simulated market (exchange={EXCHANGE!r}): every row is simulated")
    return out


def write_result(r: SimResult, store: Store, name: str) -> list[ImportSummary]:
    """Write a run into ``store`` (idempotent: the same run twice adds nothing)."""
    folder = store.root / "simulations"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / f"{name}.json"
    body = {"kind": "flushwatch-simulation", "exchange": EXCHANGE, "params": r.params}
    manifest.write_bytes(msgspec.json.format(msgspec.json.encode(body), indent=2) + b"\n")
    return store.write([parsed_from_result(r, manifest)])
