"""``flushwatch update``: bring every series in the store up to now (for a cron job).

Each stored series of a Binance venue is mapped back to the Binance Vision dataset it comes
from (bars by price kind and interval → ``klines`` / ``markPriceKlines`` / ...; funding →
``fundingRate``; open interest and long/short ratios → ``metrics``; depth bands →
``bookDepth``; quotes → ``bookTicker``; liquidations → ``liquidationSnapshot``), and:

1. the archive files from the UTC day its last row falls in up to yesterday are fetched and
   imported by :func:`flushwatch.api.download_vision.download_vision` (a day already
   imported costs nothing: verified in the cache and found in the ledger);
2. what the archive cannot have yet (today, yesterday until Binance posts it, the running
   month of the monthly-only ``fundingRate``) is asked for over REST (USDⓈ-M klines,
   funding and open interest; COIN-M klines of every price kind, funding, open interest and
   long/short ratios) by the ``rest`` callable the front end passes in (the CLI passes
   :mod:`flushwatch.live.backfill`, which this layer must not import).

Bybit and OKX perpetual series (klines, funding, open interest, long/short ratios, OKX
liquidations: what their REST history plans offer) have no archive here and are asked for over
REST from their last row on. Series that cannot be updated are named with the reason in
``notes``: trades (a stored trade does not say whether it came from ``trades`` or
``aggTrades`` files), live-only datasets (book, mark price), other venues. Each REST window is
one symbol's, so no series the store did not hold is added. No clock is read: the caller
passes ``now_ns``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec

from flushwatch.api.download_vision import DownloadResult, Progress, download_vision
from flushwatch.api.vision_plan import KLINE_DATASETS, monthly_published, plan
from flushwatch.connectors.config import VisionConfig
from flushwatch.store import Store
from flushwatch.venues.binance.intervals import INTERVALS
from flushwatch.venues.bybit.history import BybitPlan
from flushwatch.venues.okx.history import OkxPlan

_BINANCE = ("binance", "binanceusdm", "binancecoinm")
_BY_DATASET = {
    "funding": "fundingRate",
    "open_interest": "metrics",
    "long_short_ratio": "metrics",
    "depth_bands": "bookDepth",
    "quotes": "bookTicker",
    "liquidations": "liquidationSnapshot",
}
_KLINES_BY_KIND = dict(zip(("trade", "mark", "index", "premium"), KLINE_DATASETS, strict=True))
_INTERVAL_NAMES = {s: n for n, s in INTERVALS.items()}
#: Venues updated over REST only, with the backfill datasets their history plans offer.
_REST_ONLY = {BybitPlan.exchange: BybitPlan.datasets, OkxPlan.exchange: OkxPlan.datasets}
_REST_NAMES = {
    "funding": "funding",
    "open_interest": "open_interest",
    "long_short_ratio": "long_short_ratio",
    "liquidations": "liquidations",
}
#: Vision datasets whose recent days the REST backfill can fill, per venue (its datasets).
_REST_BY_VENUE: dict[str, dict[str, tuple[str, ...]]] = {
    "binanceusdm": {
        "klines": ("klines",),
        "fundingRate": ("funding",),
        "metrics": ("open_interest",),
    },
    "binancecoinm": {
        "klines": ("klines",),
        "markPriceKlines": ("mark_klines",),
        "indexPriceKlines": ("index_klines",),
        "premiumIndexKlines": ("premium_klines",),
        "fundingRate": ("funding",),
        "metrics": ("open_interest", "long_short_ratio"),
    },
}


def _rest_of(t: Target) -> tuple[str, ...]:
    """The backfill datasets that finish ``t``'s recent days (none: the archive only).

    COIN-M statistics are asked per pair and contract type: only a perpetual's map to REST.
    """
    if t.venue == "binancecoinm" and t.dataset == "metrics" and not t.symbol.endswith("_PERP"):
        return ()
    return _REST_BY_VENUE.get(t.venue, {}).get(t.dataset, ())


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """One stored series to bring up to date, and where from.

    ``via`` is ``vision`` (``dataset`` is the archive's name, e.g. ``fundingRate``; recent
    days over REST for USDⓈ-M) or ``rest`` (``dataset`` is the backfill's name, e.g.
    ``funding``: Bybit, OKX).
    """

    venue: str
    dataset: str
    symbol: str
    interval: str | None
    last_ts: int
    via: str = "vision"


class RestWindow(msgspec.Struct, frozen=True, kw_only=True):
    """A REST backfill to run: symbols of one venue over ``[start_ns, end_ns)``."""

    venue: str
    symbols: list[str]
    datasets: list[str]
    interval: str
    start_ns: int
    end_ns: int


#: Runs one REST window and returns the rows it added per dataset.
RestFetch = Callable[[RestWindow], dict[str, int]]


class UpdateResult(msgspec.Struct, kw_only=True):
    """What ``update`` did (or, with ``dry_run``, would do): the ``--json`` document."""

    store: str
    dry_run: bool
    targets: list[Target]
    #: Archive files planned (``dry_run``: with ``cached`` saying whether a verified copy
    #: is in the cache already, so nothing would be fetched for it).
    planned: list[dict[str, object]]
    downloads: list[DownloadResult]
    rest: list[RestWindow]
    rest_rows_added: dict[str, int]
    rows_added: int
    notes: list[str]

    def to_dict(self) -> dict[str, object]:
        """The JSON document (plain builtins)."""
        out = msgspec.to_builtins(self)
        assert isinstance(out, dict)
        return out


def targets(store: Store) -> tuple[list[Target], list[str]]:
    """The store's series as archive or REST datasets, and what cannot be updated and why."""
    out: dict[tuple[str, str, str, str | None, str], int] = {}
    notes: list[str] = []

    def keep(t: tuple[str, str, str, str | None, str], last: int) -> None:
        out[t] = max(out.get(t, last), last)

    for s in store.series():
        if s.dataset == "bars":
            continue
        rest_ds = _REST_NAMES.get(s.dataset)
        if s.exchange in _REST_ONLY and rest_ds in _REST_ONLY[s.exchange] and s.market == "perp":
            keep((s.exchange, str(rest_ds), s.symbol, None, "rest"), s.last_ts)
            continue
        ds = _BY_DATASET.get(s.dataset) if s.exchange in _BINANCE else None
        if ds is not None:
            keep((s.exchange, ds, s.symbol, None, "vision"), s.last_ts)
        else:
            notes.append(f"{s.dataset} of {s.exchange} {s.symbol}: not updated ({_why(s.dataset)})")
    if "bars" in store.datasets():
        _, rows = store.query(
            "SELECT exchange, market, symbol, price_kind, interval_s, max(ts_event) FROM bars "
            "GROUP BY ALL ORDER BY ALL"
        )
        for exchange, market, symbol, kind, interval_s, last in rows:
            ex, sym, name = str(exchange), str(symbol), _INTERVAL_NAMES.get(int(str(interval_s)))
            if ex in _BINANCE and name is not None:
                keep((ex, _KLINES_BY_KIND[str(kind)], sym, name, "vision"), int(str(last)))
            elif ex in _REST_ONLY and market == "perp" and kind == "trade" and name is not None:
                keep((ex, "klines", sym, name, "rest"), int(str(last)))
            else:
                notes.append(f"{kind} bars of {ex} {market} {sym} ({interval_s} s): not updated")
    found = [
        Target(venue=v, dataset=d, symbol=s, interval=i, via=via, last_ts=t)
        for (v, d, s, i, via), t in sorted(out.items(), key=lambda kv: tuple(map(str, kv[0])))
    ]
    return found, notes


def _why(dataset: str) -> str:
    if dataset == "trades":
        return (
            "trades do not say whether they came from trades or aggTrades files: use "
            "`flushwatch download binance-vision --data aggTrades` (or trades)"
        )
    if dataset in ("book", "mark_price"):
        return "recorded live only; no archive or REST history has it"
    return "no downloader for that venue and dataset"


def _day(ns: int) -> date:
    return datetime.fromtimestamp(ns / 1e9, UTC).date()


def _ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 10**9


def _rest_start(t: Target, today: date) -> int:
    """Where the archive stops for ``t``: yesterday (its file may be late), or for a
    monthly-only dataset the first month not published yet."""
    first = today - timedelta(days=1)
    if t.dataset == "fundingRate":
        month = today.replace(day=1)  # the running month is never published
        previous = (month - timedelta(days=1)).replace(day=1)
        first = month if monthly_published(previous, today) else previous
    return max(t.last_ts, _ns(first))


def rest_windows(found: list[Target], today: date, now_ns: int) -> list[RestWindow]:
    """The REST windows that finish what the archive cannot: one per venue, symbol and kline
    interval (funding, OI and ratios ride with the symbol's first interval, else 1h)."""
    groups: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    for t in found:
        names: tuple[str, ...]
        if t.via == "rest":
            names, start = (t.dataset,), t.last_ts
        elif _rest_of(t):
            names, start = _rest_of(t), _rest_start(t, today)
        else:
            continue
        for ds in names:
            interval = t.interval if ds.endswith("klines") and t.interval else ""
            groups.setdefault((t.venue, t.symbol, interval), []).append((ds, start))
    for venue, symbol, interval in sorted(groups):
        if interval == "":
            plain = groups.pop((venue, symbol, ""))
            key = next((k for k in sorted(groups) if k[:2] == (venue, symbol)), None)
            groups.setdefault(key or (venue, symbol, "1h"), []).extend(plain)
    out = []
    for (venue, symbol, interval), items in sorted(groups.items()):
        start = min(st for _, st in items)
        if start < now_ns:
            out.append(
                RestWindow(
                    venue=venue,
                    symbols=[symbol],
                    datasets=sorted({ds for ds, _ in items}),
                    interval=interval,
                    start_ns=start,
                    end_ns=now_ns,
                )
            )
    return out


def update(
    store_root: Path,
    *,
    now_ns: int,
    dry_run: bool = False,
    cache: Path | None = None,
    config: VisionConfig | None = None,
    concurrency: int = 4,
    rest: RestFetch | None = None,
    progress: Progress | None = None,
) -> UpdateResult:
    """Bring the store's series up to ``now_ns`` (see the module docstring)."""
    store = Store.open(store_root, create=False)
    found, notes = targets(store)
    today = _day(now_ns)
    yesterday = today - timedelta(days=1)
    planned: list[dict[str, object]] = []
    downloads: list[DownloadResult] = []
    cache_dir = cache if cache is not None else store_root / "downloads" / "vision"
    # Series that start on the same day go in one run: its concurrency spans their files.
    runs: dict[tuple[str, str, str, date], list[str]] = {}
    for t in found:
        start = _day(t.last_ts)
        if t.via == "vision" and start <= yesterday:
            runs.setdefault((t.venue, t.dataset, t.interval or "1h", start), []).append(t.symbol)
        if t.via == "vision" and not _rest_of(t):
            notes.append(
                f"{t.venue} {t.dataset} {t.symbol}: days the archive has not published yet "
                "come with a later update (no REST history for it here)"
            )
    for (venue, ds, interval, start), symbols in sorted(runs.items()):
        if dry_run:
            p = plan(venue, [ds], symbols, start, yesterday, today=today, interval=interval)
            planned += [
                {"path": f.path, "cached": _looks_cached(cache_dir / f.path)} for f in p.files
            ]
            notes += p.notes
            continue
        downloads.append(
            download_vision(
                store_root,
                venue=venue,
                datasets=[ds],
                symbols=symbols,
                start=start,
                end=yesterday,
                cache=cache,
                config=config,
                concurrency=concurrency,
                today=today,
                interval=interval,
                progress=progress,
            )
        )
    windows = rest_windows(found, today, now_ns)
    rest_added: dict[str, int] = {}
    if rest is None and windows:
        notes.append("recent days over REST: skipped (no REST fetcher given)")
    elif rest is not None and not dry_run:
        for w in windows:
            for ds, n in rest(w).items():
                rest_added[ds] = rest_added.get(ds, 0) + n
    return UpdateResult(
        store=str(store_root),
        dry_run=dry_run,
        targets=found,
        planned=planned,
        downloads=downloads,
        rest=windows,
        rest_rows_added=rest_added,
        rows_added=sum(d.rows_added for d in downloads) + sum(rest_added.values()),
        notes=notes + [n for d in downloads for n in d.notes],
    )


def _looks_cached(zip_path: Path) -> bool:
    """A zip with its sidecar beside it (verified when the real run reaches it)."""
    return zip_path.is_file() and zip_path.with_name(zip_path.name + ".CHECKSUM").is_file()
