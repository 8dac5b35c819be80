"""``flushwatch update``: bring every Binance series in the store up to now (for a cron job).

Each stored series of a Binance venue is mapped back to the Binance Vision dataset it comes
from (bars by price kind and interval → ``klines`` / ``markPriceKlines`` / ...; funding →
``fundingRate``; open interest and long/short ratios → ``metrics``; depth bands →
``bookDepth``; quotes → ``bookTicker``; liquidations → ``liquidationSnapshot``), and:

1. the archive files from the UTC day its last row falls in up to yesterday are fetched and
   imported by :func:`flushwatch.api.download_vision.download_vision` (a day already
   imported costs nothing: verified in the cache and found in the ledger);
2. what the archive cannot have yet (today, yesterday until Binance posts it, the running
   month of the monthly-only ``fundingRate``) is asked for over REST, for USDⓈ-M klines,
   funding and open interest, by the ``rest`` callable the front end passes in (the CLI
   passes :mod:`flushwatch.live.backfill`, which this layer must not import).

Series that cannot be updated are named with the reason in ``notes``: trades (a stored trade
does not say whether it came from ``trades`` or ``aggTrades`` files), live-only datasets
(book, mark price), and venues without a downloader here. No clock is read: the caller passes
``now_ns``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec

from flushwatch.api.download_vision import DownloadResult, download_vision
from flushwatch.api.vision_plan import KLINE_DATASETS, monthly_published, plan
from flushwatch.connectors.config import VisionConfig
from flushwatch.store import Store
from flushwatch.venues.binance.intervals import INTERVALS

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
#: Vision datasets whose recent days the REST backfill can fill (USDⓈ-M only).
_REST = {"klines": "klines", "fundingRate": "funding", "metrics": "open_interest"}


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """One stored series to bring up to date, as the Vision dataset it comes from."""

    venue: str
    dataset: str
    symbol: str
    interval: str | None
    last_ts: int


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
    """The store's Binance series as Vision datasets, and what cannot be updated and why."""
    out: dict[tuple[str, str, str, str | None], int] = {}
    notes: list[str] = []

    def keep(venue: str, ds: str, symbol: str, interval: str | None, last: int) -> None:
        key = (venue, ds, symbol, interval)
        out[key] = max(out.get(key, last), last)

    for s in store.series():
        if s.dataset == "bars":
            continue
        if s.exchange not in _BINANCE:
            notes.append(f"{s.dataset} of {s.exchange} {s.symbol}: no downloader for that venue")
            continue
        ds = _BY_DATASET.get(s.dataset)
        if ds is None:
            why = (
                "trades do not say whether they came from trades or aggTrades files: use "
                "`flushwatch download binance-vision --data aggTrades` (or trades)"
                if s.dataset == "trades"
                else "recorded live only; Binance Vision has no such files"
            )
            notes.append(f"{s.dataset} of {s.exchange} {s.symbol}: not updated ({why})")
            continue
        keep(s.exchange, ds, s.symbol, None, s.last_ts)
    if "bars" in store.datasets():
        _, rows = store.query(
            "SELECT exchange, symbol, price_kind, interval_s, max(ts_event) FROM bars "
            "GROUP BY ALL ORDER BY ALL"
        )
        for exchange, symbol, kind, interval_s, last in rows:
            name = _INTERVAL_NAMES.get(int(str(interval_s)))
            if exchange not in _BINANCE or name is None:
                notes.append(f"bars of {exchange} {symbol} ({interval_s} s): no downloader")
                continue
            keep(str(exchange), _KLINES_BY_KIND[str(kind)], str(symbol), name, int(str(last)))
    found = [
        Target(venue=v, dataset=d, symbol=s, interval=i, last_ts=t)
        for (v, d, s, i), t in sorted(out.items(), key=lambda kv: tuple(map(str, kv[0])))
    ]
    return found, notes


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
    """One REST window per kline interval for the USDⓈ-M series the archive cannot finish."""
    groups: dict[str, list[Target]] = {}
    for t in found:
        if t.venue == "binanceusdm" and t.dataset in _REST:
            interval = t.interval if t.dataset == "klines" and t.interval else ""
            groups.setdefault(interval, []).append(t)
    plain = groups.pop("", [])
    if plain:  # funding and OI ride with the first kline interval, else 1h
        groups.setdefault(next(iter(groups), "1h"), []).extend(plain)
    out = []
    for interval, ts in sorted(groups.items()):
        start = min(_rest_start(t, today) for t in ts)
        if start < now_ns:
            out.append(
                RestWindow(
                    venue="binanceusdm",
                    symbols=sorted({t.symbol for t in ts}),
                    datasets=sorted({_REST[t.dataset] for t in ts}),
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
) -> UpdateResult:
    """Bring the store's Binance series up to ``now_ns`` (see the module docstring)."""
    store = Store.open(store_root, create=False)
    found, notes = targets(store)
    today = _day(now_ns)
    yesterday = today - timedelta(days=1)
    planned: list[dict[str, object]] = []
    downloads: list[DownloadResult] = []
    cache_dir = cache if cache is not None else store_root / "downloads" / "vision"
    for t in found:
        start = _day(t.last_ts)
        if start > yesterday:
            continue
        interval = t.interval or "1h"
        if dry_run:
            p = plan(
                t.venue, [t.dataset], [t.symbol], start, yesterday, today=today, interval=interval
            )
            planned += [
                {"path": f.path, "cached": _looks_cached(cache_dir / f.path)} for f in p.files
            ]
            notes += p.notes
            continue
        downloads.append(
            download_vision(
                store_root,
                venue=t.venue,
                datasets=[t.dataset],
                symbols=[t.symbol],
                start=start,
                end=yesterday,
                cache=cache,
                config=config,
                concurrency=concurrency,
                today=today,
                interval=interval,
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
