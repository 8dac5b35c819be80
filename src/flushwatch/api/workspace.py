"""The workspace: every question flushwatch answers, asked of one store, as of a time.

The CLI, the live monitor, a web page and a notebook ask the same questions ("the report
for BTC as of 02:00"); they are answered here, once. Every call with ``at`` reads through an
:class:`~flushwatch.store.asof.AsOfStore`, so it sees only what was knowable at ``at`` —
bars and buckets closed by then, records stamped by then — and gives the same answer whether
or not the store holds later data. ``end`` is an as-of bound too (a window's exclusive end);
an ``end`` after ``at`` is refused. The workspace never writes to the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from flushwatch.api.times import TimeLike, window
from flushwatch.errors import ConfigError, InputError

if TYPE_CHECKING:
    from flushwatch.analytics.mechanics import TierTable
    from flushwatch.api.cluster import ClusterSpec
    from flushwatch.api.fragility import FragilityRanking
    from flushwatch.api.prints import HourTotals
    from flushwatch.api.results import (
        Cascade,
        Events,
        LiqMap,
        LiqPrice,
        MapBacktest,
        MapForecast,
        Report,
        Scorecard,
        SqlResult,
        StoreInfo,
    )
    from flushwatch.api.wash import WashReport
    from flushwatch.config import ReportConfig
    from flushwatch.store import SeriesInfo, Store
    from flushwatch.store.asof import Reader

DAY_NS = 86_400 * 10**9
#: How far past its last row a store still answers "as of" (a daily bar closes a day later).
_SLACK_NS = 2 * DAY_NS
_STEPS = {"m": 60, "h": 3600, "d": 86_400}
_PRICED = ("bars", "mark_price")


def step_seconds(step: str | int | None) -> int | None:
    """``"5m"``, ``"1h"``, ``"1d"`` or seconds → seconds.

    Examples
    --------
    >>> step_seconds("5m"), step_seconds(3600), step_seconds(None)
    (300, 3600, None)
    """
    if step is None or (isinstance(step, int) and not isinstance(step, bool) and step > 0):
        return step
    text = str(step)
    unit = text[-1:].lower()
    try:
        n = int(text[:-1])
    except ValueError:
        n = 0
    if unit not in _STEPS or n <= 0:
        raise ConfigError(f"--step {step!r}: use a number and m, h or d (5m, 1h, 1d)")
    return n * _STEPS[unit]


def _config(config: ReportConfig | Path | str | None) -> ReportConfig:
    from flushwatch.config import ReportConfig, load_config

    if config is None or isinstance(config, ReportConfig):
        return config or ReportConfig()
    return load_config(Path(config))


class Workspace:
    """Read-only, point-in-time access to one store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def path(self) -> Path:
        """The store's folder."""
        return self._store.root

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    def data_version(self) -> tuple[int, ...]:
        """A cheap version of the store's content: any write changes it (for caches)."""
        from flushwatch.store.location import data_version

        return data_version(self.path)

    # -- time ----------------------------------------------------------------------------
    def _series_of(self, asset: str | None) -> list[SeriesInfo]:
        from flushwatch.domain.symbols import base_asset

        series = self._store.series(asset=asset)
        if asset is None:
            return series
        return [s for s in series if base_asset(s.symbol) == asset.upper()]

    def coverage(self, asset: str | None = None) -> tuple[int, int] | None:
        """First and last ``ts_event`` of the store's prices (of ``asset``), or None.

        Prices, because every question needs one: funding or OI alone answers nothing.
        """
        series = [s for s in self._series_of(asset) if s.dataset in _PRICED]
        if not series:
            return None
        return min(s.first_ts for s in series), max(s.last_ts for s in series)

    def _reader(
        self,
        asset: str | None,
        start: TimeLike | None,
        end: TimeLike | None,
        at: TimeLike | None,
    ) -> tuple[Reader, int | None, int | None]:
        """The reader bounded at the as-of time, after checking it against the store."""
        from flushwatch.domain.time import iso
        from flushwatch.store.asof import AsOfStore

        start_ns, as_of = window(start, end, at)
        span = self.coverage(asset)
        what = f"{asset.upper()} prices" if asset else "prices"
        if span is None:
            held = sorted({_asset(s.symbol) for s in self._store.series()})
            raise InputError(
                f"the store at {self.path} holds no {what}"
                + (f" (it holds {', '.join(held)})" if held else " (import something first)")
            )
        first, last = span
        covers = f"the store's {what} cover {iso(first)} to {iso(last)}"
        if as_of is not None and not first < as_of <= last + _SLACK_NS:
            raise InputError(f"at/end {iso(as_of)} is outside the store's data: {covers}")
        if start_ns is not None and start_ns > last:
            raise InputError(f"start {iso(start_ns)} is after the store's data: {covers}")
        reader: Reader = self._store if as_of is None else AsOfStore(self._store, as_of)
        return reader, start_ns, as_of

    # -- the questions -------------------------------------------------------------------
    def report(
        self,
        asset: str,
        *,
        at: TimeLike | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        exchange: str | None = None,
        step: str | int | None = None,
        config: ReportConfig | Path | str | None = None,
    ) -> Report:
        """The flush report as of ``at`` (default: the last closed bar in the store)."""
        from flushwatch.api.results import Report
        from flushwatch.api.wash import trade_prints_section
        from flushwatch.report.build import build_report

        cfg = _config(config)
        reader, start_ns, as_of = self._reader(asset, start, end, at)
        report, market = build_report(
            reader,
            asset,
            as_of_ns=as_of,
            exchange=exchange,
            start_ns=start_ns,
            step_s=step_seconds(step),
            cfg=cfg,
            pool_assets=self._priced_assets if cfg.outcomes.pool else None,
        )
        # the trade-print suspicion over the 24 h before the report's as-of (None: no prints)
        prints = trade_prints_section(reader, report.asset, as_of_ns=report.as_of_ts)
        report = msgspec.structs.replace(report, trade_prints=prints)
        return Report(report=report, market=market)

    def _priced_assets(self) -> list[str]:
        """Every asset with prices in the store: the scorecard's and the odds' pool."""
        return sorted({_asset(s.symbol) for s in self._store.series() if s.dataset in _PRICED})

    def events(
        self,
        asset: str,
        *,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        at: TimeLike | None = None,
        exchange: str | None = None,
        step: str | int | None = None,
        config: ReportConfig | Path | str | None = None,
    ) -> Events:
        """Every flush detected in ``[start, end)`` with what was known at ``end``."""
        from flushwatch.analytics.flushes import detect_flushes
        from flushwatch.api.results import Events
        from flushwatch.report.assemble import assemble

        cfg = _config(config)
        reader, start_ns, as_of = self._reader(asset, start, end, at)
        m = assemble(reader, asset, exchange=exchange, start_ns=start_ns, step_s=step_seconds(step))
        last_close = int(m.ts[-1]) + m.step_s * 10**9
        return Events(
            asset=m.asset,
            as_of_ts=last_close if as_of is None else as_of,
            sources=dict(m.sources),
            events=detect_flushes(m, cfg.flush),
        )

    def map(
        self,
        asset: str,
        *,
        at: TimeLike | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        exchange: str | None = None,
        bins: int = 2000,
        snapshots: bool = False,
    ) -> LiqMap:
        """The estimated liquidation map after the last bar closed by ``at``.

        ``snapshots`` keeps the map's history (for the heatmap of ``map --html``).
        """
        from flushwatch.api.liqmap import build, to_json
        from flushwatch.api.results import LiqMap

        if not 10 <= bins <= 100_000:
            raise ConfigError(f"bins {bins}: use 10 to 100,000 price bins")
        reader, start_ns, as_of = self._reader(asset, start, end, at)
        m, state, clusters, notes = build(
            reader, asset, exchange=exchange, start_ns=start_ns, bins=bins, snapshots=snapshots
        )
        when = state.asof_ts if as_of is None else as_of
        doc = to_json(m, state, clusters, notes, when)
        return LiqMap(doc=doc, market=m, state=state, clusters=clusters)

    def cascade(
        self,
        asset: str,
        *,
        shock: str | float,
        at: TimeLike | None = None,
        exchange: str | None = None,
        runs: int = 0,
    ) -> Cascade:
        """A cascade from ``shock`` (``"-3%"``, ``"+2%"``, ``"-5e6usd"``, or a signed percent)."""
        from flushwatch.api.cascade import cascade

        if runs < 0:
            raise ConfigError(f"runs {runs}: use 0 (no Monte Carlo) or more")
        text = f"{shock:+g}%" if isinstance(shock, int | float) else shock
        reader, _, as_of = self._reader(asset, None, None, at)
        return cascade(reader, asset.upper(), text, exchange=exchange, as_of_ns=as_of, runs=runs)

    def fragility(
        self,
        assets: list[str] | None = None,
        *,
        at: TimeLike | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> FragilityRanking:
        """Markets ranked like with like as of ``at`` (default: every asset with price bars;
        ``at``: :func:`~flushwatch.api.fragility.default_as_of`)."""
        from flushwatch.api.fragility import default_as_of, fragility
        from flushwatch.store.asof import AsOfStore

        reader, _, as_of = self._reader(None, None, None, at)
        names = [a.upper() for a in assets] if assets else self._assets_with_bars(as_of)
        if as_of is None:
            as_of = default_as_of(self._store.series(), names)
            reader = AsOfStore(self._store, as_of or 0)
        if not names or as_of is None:
            raise InputError("the store holds no price bars: import klines or a vendor export")
        return fragility(reader, names, as_of_ns=as_of, progress=progress)

    def _assets_with_bars(self, as_of: int | None) -> list[str]:
        return sorted(
            {
                _asset(s.symbol)
                for s in self._store.series()
                if s.dataset == "bars" and (as_of is None or s.first_ts < as_of)
            }
        )

    def backtest_map(
        self,
        asset: str = "BTC",
        *,
        end: TimeLike | None = None,
        exchange: str | None = None,
        step: str | int | None = None,
        warmup_hours: float = 72.0,
    ) -> MapBacktest:
        """Score the map, bar by bar with earlier bars only, on realized liquidations."""
        from flushwatch.analytics.backtest_map import BacktestParams
        from flushwatch.api.backtest import backtest_market
        from flushwatch.api.results import MapBacktest
        from flushwatch.report.assemble import assemble

        if not warmup_hours >= 0:
            raise ConfigError("warmup_hours must be >= 0")
        reader, _, _ = self._reader(asset, None, end, None)
        market = assemble(reader, asset, exchange=exchange, step_s=step_seconds(step))
        result, series = backtest_market(market, BacktestParams(warmup_hours=warmup_hours))
        return MapBacktest(result=result, series=series)

    def forecast_map(
        self,
        asset: str = "BTC",
        *,
        end: TimeLike | None = None,
        exchange: str | None = None,
        step: str | int | None = None,
        k_sigma: float = 2.0,
        cadence_hours: float = 24.0,
        realized: str = "auto",
        n_boot: int = 1000,
    ) -> MapForecast:
        """Score the map as a forecast issued at 00:00 UTC (and every ``cadence_hours``).

        Each issue time ranks a bin set fixed before it (``k_sigma`` × trailing σ around the
        last close); the next ``cadence_hours`` of realized liquidation USD are scored on it
        beside the baselines, walk-forward, with block-bootstrap intervals. Only data before
        ``end`` is read: a store holding later data gives the same answer.
        """
        from flushwatch.analytics.forecast_map import ForecastParams
        from flushwatch.api.forecast import run
        from flushwatch.api.results import MapForecast

        try:
            params = ForecastParams(
                k_sigma=k_sigma,
                cadence_hours=cadence_hours,
                horizon_hours=cadence_hours,
                n_boot=n_boot,
            )
            msgspec.convert(msgspec.to_builtins(params), ForecastParams)
        except (msgspec.ValidationError, TypeError) as exc:
            raise ConfigError(f"forecast settings: {exc}") from None
        reader, _, _ = self._reader(asset, None, end, None)
        _, result, series = run(
            reader, asset, exchange=exchange, step_s=step_seconds(step), params=params,
            realized=realized,
        )  # fmt: skip
        return MapForecast(result=result, series=series)

    def scorecard(
        self,
        assets: Sequence[str] | None = None,
        *,
        at: TimeLike | None = None,
        horizons: Sequence[str | int] | None = None,
        judge_after: str | int | None = None,
        step: str | int | None = "1h",
        config: ReportConfig | Path | str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        cluster: ClusterSpec | None = None,
    ) -> Scorecard:
        """Judge every flush point-in-time and score what followed against simple baselines.

        ``assets`` default to every asset with prices in the store; ``horizons`` and
        ``judge_after`` take ``"1d"``/``"24h"`` or seconds (default: the config's
        ``[outcomes]``). ``at`` bounds the whole run: nothing after it is read.
        ``progress(asset, index, total)`` is called before each asset. ``cluster`` judges
        the assets on Dask workers (they open this store by its path); same result.
        """
        from flushwatch.analytics.scorecard import skill_summary
        from flushwatch.api.results import Scorecard
        from flushwatch.api.scorecard import judge_all, run, view

        cfg = _config(config)
        p = cfg.outcomes
        if horizons is not None:
            p = msgspec.structs.replace(p, horizons_hours=tuple(_hours(h) for h in horizons))
        if judge_after is not None:
            p = msgspec.structs.replace(p, judge_after_hours=_hours(judge_after, zero=True))
        cfg = msgspec.structs.replace(cfg, outcomes=p)
        reader, _, as_of = self._reader(None, None, None, at)
        priced = self._priced_assets()
        names = priced if assets is None else [a.upper() for a in assets]
        pool = sorted({*priced, *names}) if p.pool else names  # pooled odds learn from all
        step_s = step_seconds(step)
        where = None if cluster is None else (cluster, str(self.path), as_of)
        judged = judge_all(reader, pool, cfg, step_s=step_s, progress=progress, cluster=where)
        parts = run(reader, names, cfg, step_s=step_s, judged=judged)
        return Scorecard(
            as_of_ts=as_of,
            judge_after_hours=p.judge_after_hours,
            horizons_hours=p.horizons_hours,
            events_scored=sum(a["events_scored"] for a in parts["per_asset"]),
            outcomes=parts["outcomes"],
            per_asset=parts["per_asset"],
            events=view(parts["predictions"]),
            notes=parts["notes"],
            summary=skill_summary(parts["outcomes"]),
        )

    def wash(
        self,
        asset: str,
        *,
        at: TimeLike | None = None,
        window: str | int = "24h",
        venue: str | None = None,
    ) -> WashReport:
        """Wash-trading *suspicion* per venue from the trade prints in ``(at - window, at]``.

        ``at`` defaults to the asset's last print; ``window`` takes ``"6h"``/``"1d"`` or
        seconds; ``venue`` keeps one exchange. Nothing after ``at`` is read.
        """
        from flushwatch.api.times import to_ns
        from flushwatch.api.wash import wash, window_seconds

        seconds = window_seconds(window)
        return wash(self._store, asset, at_ns=to_ns(at, "at"), window_s=seconds, venue=venue)

    def liq_price(self, venue: str, side: str, entry: float, **kwargs: object) -> LiqPrice:
        """The same as :func:`flushwatch.api.liq_price` (no store needed)."""
        return liq_price(venue, side, entry, **kwargs)  # type: ignore[arg-type]

    def prints(self, *, after_ts: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Venue liquidation prints in time order: the latest ``limit``, or the first
        ``limit`` at or after ``after_ts`` (see :func:`flushwatch.api.prints.recent`)."""
        from flushwatch.api.prints import recent

        return recent(self._store, after_ts=after_ts, limit=limit)

    def hour_totals(self, at_ts: int) -> HourTotals:
        """Long and short USD of the venue prints in the UTC hour holding ``at_ts``."""
        from flushwatch.api.prints import hour_totals

        return hour_totals(self._store, at_ts)

    def info(self) -> StoreInfo:
        """Every stored series with its row count and time range, and the instruments."""
        from flushwatch.api.results import StoreInfo

        return StoreInfo(
            store=str(self.path), series=self._store.series(), instruments=self._store.instruments()
        )

    def sql(self, query: str) -> SqlResult:
        """Read-only DuckDB SQL over one view per dataset (and ``instruments``)."""
        from flushwatch.api.results import SqlResult

        names, rows = self._store.query(query)
        return SqlResult(columns=names, rows=rows)


def _hours(value: str | int, *, zero: bool = False) -> float:
    """``"3d"``, ``"24h"``, ``"90m"`` or seconds → hours (> 0, or ≥ 0 with ``zero``)."""
    if isinstance(value, str) and value.strip() in ("0", "0h", "0d") and zero:
        return 0.0
    try:
        seconds = step_seconds(value)
    except ConfigError:
        raise ConfigError(f"{value!r}: use a duration such as 6h, 1d or 3d") from None
    assert seconds is not None
    return seconds / 3600.0


def _asset(symbol: str) -> str:
    from flushwatch.domain.symbols import base_asset

    return base_asset(symbol)


def liq_price(
    venue: str,
    side: str,
    entry: float,
    *,
    size: float | None = None,
    notional: float | None = None,
    leverage: float | None = None,
    margin: float | None = None,
    mode: str = "isolated",
    wallet: float | None = None,
    tiers: TierTable | Path | str | None = None,
    symbol: str | None = None,
    mmr: float | None = None,
    fee_rate: float | None = None,
) -> LiqPrice:
    """Liquidation and bankruptcy price of one position with the venue's published formula.

    ``tiers`` is a table, or a JSON/TOML file of one (ccxt ``fetch_leverage_tiers`` shape).
    """
    from flushwatch.analytics.mechanics import TierTable
    from flushwatch.api.liqprice import compute, load_tiers
    from flushwatch.api.results import LiqPrice

    table = tiers if isinstance(tiers, TierTable) or tiers is None else None
    if tiers is not None and table is None:
        table = load_tiers(Path(str(tiers)), symbol=symbol)
    if table is not None and mmr is not None:
        raise ConfigError("give --tiers or --mmr, not both")
    res, used, warnings = compute(
        venue, side, entry, size=size, notional=notional, leverage=leverage, margin=margin,
        mode=mode, wallet=wallet, tiers=table, mmr=mmr, fee_rate=fee_rate,
    )  # fmt: skip
    return LiqPrice(result=res, tiers=used, warnings=warnings)


def open_workspace(store: Path | str | None = None) -> Workspace:
    """Open the store at ``store`` (default: ``$FLUSHWATCH_STORE``, else the user data dir)."""
    from flushwatch.store import Store, default_store_path

    root = Path(store) if store is not None else default_store_path()
    return Workspace(Store.open(root, create=False))
