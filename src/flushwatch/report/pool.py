"""The other assets' judged flushes, for the report's pooled walk-forward odds.

The odds at a judged time learn from the asset's pool (:mod:`flushwatch.analytics.pooling`:
the asset and its ``pool_size`` most-traded peers then), judged the scorecard's way on the
same as-of-bounded reader, so a report at a flush's judging time says what the scorecard
says. The ranking is one read of every symbol's bars over 30 days; then one assembly per pool
asset, so a report's cost no longer grows with the store. An asset that cannot be assembled
is left out, as the scorecard leaves it out.

Judged rows are memoised in this process per (store root, store data version, asset, as-of,
step, detector and outcome settings), and volume rankings per (store, version, month): the
dashboard and repeated API calls ask for the same assets' rows again and again. Nothing is
written to disk; a write to the store changes its data version (the import ledger's size and
time), which retires every entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING

import msgspec
import numpy as np
import polars as pl

from flushwatch.analytics.flushes import detect_flushes
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.outcomes import EventRow, event_rows
from flushwatch.analytics.pooling import choose_pool, ranking_time, rule_text, volume_window
from flushwatch.analytics.results import Probability
from flushwatch.config import ReportConfig
from flushwatch.domain.records import Bar
from flushwatch.domain.symbols import base_asset
from flushwatch.errors import InputError
from flushwatch.report.assemble import assemble
from flushwatch.store.asof import AsOfStore, Reader
from flushwatch.store.location import data_version

if TYPE_CHECKING:
    from flushwatch.store import Store

#: Judged rows kept (one entry per asset and as-of: small lists of rows).
MEMO_SIZE = 2048
_memo: OrderedDict[Hashable, list[EventRow] | None] = OrderedDict()
_rankings: OrderedDict[Hashable, dict[str, float]] = OrderedDict()
_lock = threading.Lock()
#: Memo lookups answered from memory / computed, since the process started (or memo_clear).
memo_stats = {"hits": 0, "misses": 0}


class BoundedMemo(dict[Hashable, Probability]):
    """A dict that forgets its oldest entries beyond ``size`` (safe across request threads)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def __setitem__(self, key: Hashable, value: Probability) -> None:
        with self._lock:
            while len(self) >= self.size:
                del self[next(iter(self))]
            super().__setitem__(key, value)


#: The walk-forward's raw predictions, named by content (:func:`~flushwatch.analytics.
#: probability.digests`), shared by every report of this process: a repeated report, or one
#: of another asset at the same time, refits only what it has not seen.
RAW_MEMO = BoundedMemo(100_000)


def trailing_volumes(store: Reader, judge_ts: int) -> dict[str, float]:
    """Quote volume per asset over the ranking window of ``judge_ts``: one read, all symbols.

    Traded-price bars closed by the window's end; per symbol only its coarsest interval (a
    1-minute and an hourly series of one symbol are the same trades); ``volume_quote``, else
    base volume × close. Summed in a fixed order, so every caller gets the same floats.
    """
    lo, hi = volume_window(judge_ts)
    df = store.read(Bar, start_ns=lo, end_ns=hi)
    if df.height == 0:
        return {}
    closes = pl.col("ts_event") + pl.col("interval_s").cast(pl.Int64) * 10**9
    df = df.filter((pl.col("price_kind").cast(pl.Utf8) == "trade") & (closes <= hi))
    keys = ["exchange", "market", "symbol"]
    df = df.with_columns(*(pl.col(k).cast(pl.Utf8) for k in keys))
    df = df.filter(pl.col("interval_s") == pl.col("interval_s").max().over(keys))
    if df.height == 0:  # only mark/index/premium bars, or none closed by the window's end
        return {}
    quote = pl.col("volume_quote").fill_nan(None)
    names = {s: base_asset(s) for s in df.get_column("symbol").unique().to_list()}
    df = df.with_columns(
        pl.coalesce(quote, pl.col("volume_base") * pl.col("close")).fill_null(0.0).alias("qv"),
        pl.col("symbol").replace_strict(names, return_dtype=pl.Utf8).alias("asset"),
    ).sort(["asset", *keys, "ts_event"])
    assets = df.get_column("asset").to_numpy()
    qv = df.get_column("qv").to_numpy().astype(float)
    starts = np.flatnonzero(np.r_[True, assets[1:] != assets[:-1]])
    sums = np.add.reduceat(qv, starts)
    return {str(assets[i]): float(s) for i, s in zip(starts, sums, strict=True)}


def pool_for(
    store: Reader, asset: str, candidates: Sequence[str], judge_ts: int, k: int
) -> tuple[str, ...]:
    """The pool of ``asset`` judged at ``judge_ts`` among ``candidates`` (the asset included)."""
    allowed = {c.upper() for c in candidates}
    vols = {a: v for a, v in _ranking(store, judge_ts).items() if a in allowed}
    return choose_pool(vols, asset.upper(), k)


def _ranking(store: Reader, judge_ts: int) -> dict[str, float]:
    """:func:`trailing_volumes`, memoised per store version and ranking month: the window
    closes before ``judge_ts``, so any as-of that may judge then sees the same bars."""
    base = _store_of(store)
    if base is None:
        return trailing_volumes(store, judge_ts)
    root = base.root.resolve()
    key = (str(root), data_version(root), ranking_time(judge_ts))
    with _lock:
        if key in _rankings:
            _rankings.move_to_end(key)
            return _rankings[key]
    vols = trailing_volumes(store, judge_ts)
    with _lock:
        _rankings[key] = vols
        while len(_rankings) > 256:
            _rankings.popitem(last=False)
    return vols


def _store_of(store: Reader) -> Store | None:
    from flushwatch.store import Store

    base = store.store if isinstance(store, AsOfStore) else store
    return base if isinstance(base, Store) else None


def pool_rows(
    store: Reader,
    assets: Sequence[str],
    cfg: ReportConfig,
    *,
    step_s: int | None,
    exclude: str,
) -> list[EventRow]:
    """Judged rows of every asset in ``assets`` but ``exclude`` (read as ``store`` allows)."""
    rows: list[EventRow] = []
    for asset in assets:
        if asset.upper() == exclude.upper():
            continue
        rows += judged_rows(store, asset, cfg, step_s=step_s) or []
    return rows


class LazyPool:
    """The report's pool, ranked and judged only if a focus flush is judged (then remembered).

    ``judge_ts``: the odds' judging time (the last bar closed by the as-of time);
    ``candidates`` gives the assets the pool may draw from (listing them reads every series'
    footers, so only when asked); None: no pool (``[outcomes] pool = false``).
    """

    def __init__(
        self,
        store: Reader,
        m: MarketSeries,
        candidates: Callable[[], Sequence[str]] | None,
        cfg: ReportConfig,
        *,
        judge_ts: int,
    ) -> None:
        self.store, self.m, self.candidates, self.cfg = store, m, candidates, cfg
        self.judge_ts = judge_ts
        self.assets: tuple[str, ...] = ()

    def __call__(self) -> list[EventRow]:
        """The other pool assets' judged rows (the odds keep those judged before the focus's)."""
        if self.candidates is None:
            return []
        candidates = self.candidates()
        if not candidates:
            return []
        k = self.cfg.outcomes.pool_size
        self.assets = pool_for(self.store, self.m.asset, candidates, self.judge_ts, k)
        return pool_rows(
            self.store, self.assets, self.cfg, step_s=self.m.step_s, exclude=self.m.asset
        )

    def notes(self) -> list[str]:
        """The rule and the assets used, once the pool was asked for."""
        if not self.assets:
            return []
        return [f"{rule_text(self.cfg.outcomes.pool_size)}: {', '.join(self.assets)}"]


def judged_rows(
    store: Reader, asset: str, cfg: ReportConfig, *, step_s: int | None
) -> list[EventRow] | None:
    """``asset``'s judged flushes as ``store`` allows (None: it cannot be assembled), memoised."""
    key = _key(store, asset, cfg, step_s)
    if key is not None:
        with _lock:
            if key in _memo:
                _memo.move_to_end(key)
                memo_stats["hits"] += 1
                return _memo[key]
            memo_stats["misses"] += 1
    try:
        m = assemble(store, asset, step_s=step_s)
    except InputError:
        rows = None
    else:
        events = detect_flushes(m, cfg.flush)
        rows = event_rows(m, events, cfg.outcomes, cfg.flush.merge_gap_hours)
    if key is not None:
        with _lock:
            _memo[key] = rows
            while len(_memo) > MEMO_SIZE:
                _memo.popitem(last=False)
    return rows


def _key(store: Reader, asset: str, cfg: ReportConfig, step_s: int | None) -> Hashable | None:
    """Memo key, or None for a reader whose data version is unknown (not memoised)."""
    at = store.at_ns if isinstance(store, AsOfStore) else None
    base = _store_of(store)
    if base is None:
        return None
    settings = msgspec.json.encode((cfg.flush, cfg.outcomes))
    root = base.root.resolve()
    return (str(root), data_version(root), asset.upper(), at, step_s, settings)


def memo_clear() -> None:
    """Forget every memoised row (tests; a long-lived process never needs it)."""
    with _lock:
        _memo.clear()
        _rankings.clear()
        memo_stats.update(hits=0, misses=0)
    RAW_MEMO.clear()
