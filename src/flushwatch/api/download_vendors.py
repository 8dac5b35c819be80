"""``flushwatch download coinalyze|coinglass`` as use cases: page, record, decode, import.

For every page (one time window of at most ``page_rows`` intervals, and for Coinalyze one
group of at most 20 symbols), every ``--data`` kind is fetched, then:

1. **Recorded verbatim**, each body as soon as it arrives, one JSON line per body in the REST
   line format of ``flushwatch record`` (``{"t": "http", "ts": <s>, "url": ..., "data": <body>}``)
   in ``<recordings>/<vendor>_rest_<UTC stamp>.jsonl``. The key is a request header and never
   part of a URL, so a recording holds none. :func:`replay` decodes a recording again (no
   network, no key): the same records the download stored.
2. **Decoded** by the pure page decoders (:mod:`flushwatch.venues.vendor_records`), everything
   a page's URLs say (interval, window, venues) read back from the URLs, so a download, a
   replay and ``flushwatch import`` of the recording decode alike.
3. **Imported all or nothing per page**: validated like any import, then one atomic
   :meth:`~flushwatch.store.Store.write`. A body that does not decode stops the run before its
   page touches the store (pages before it stay: each was whole). The store keeps one row per
   series and bucket, so a rerun adds nothing.
4. **Not fetched twice.** A page is skipped when its URLs are in the store's page ledger
   (:class:`PageLedger`: pages imported before, vendor gaps and all) or when the store holds
   every bucket of every series it would fill (from another window split, or an import of
   the vendor's CSV export): a rerun spends none of the rate limit on what is already there.

Only buckets that have closed by ``end`` are asked for and kept: an open bucket would be
stored with a partial value, and the store keeps the first version of a row.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from flushwatch.api.vendor_pages import (
    Call,
    PageLedger,
    PageRun,
    Progress,
    Recording,
    Series,
    VendorStats,
    all_held,
    import_page,
    read_recording,
    span_ns,
)
from flushwatch.connectors import coinalyze as cz_api
from flushwatch.connectors import coinglass_api as cg_api
from flushwatch.connectors.vendor_http import chunks, windows
from flushwatch.domain.records import (
    Bar,
    DepthBand,
    Funding,
    LiquidationBucket,
    LongShortRatio,
    OpenInterest,
)
from flushwatch.domain.time import NS_PER_MS, NS_PER_S, iso
from flushwatch.errors import BadSymbol, ConfigError, InputError
from flushwatch.venues import coinalyze as cz
from flushwatch.venues import coinglass_api as cg
from flushwatch.venues.vendor_records import coinalyze_records, coinglass_records, params

if TYPE_CHECKING:
    from flushwatch.connectors.vendor_http import VendorHttp
    from flushwatch.store import Store

__all__ = [
    "Progress",
    "VendorStats",
    "coinalyze_records",
    "coinglass_records",
    "download_coinalyze",
    "download_coinglass",
    "replay",
]

COINALYZE_DATA = tuple(cz_api.ENDPOINTS)
COINGLASS_DATA = cg_api.DATA


_params = params  # the page decoders read URLs the same way


# -- counting ------------------------------------------------------------------------------------
def _finish(stats: VendorStats, http: VendorHttp, start: str) -> VendorStats:
    stats.requests, stats.rate_limited = http.requests, http.rate_limited
    stats.bytes, stats.waited_s = http.bytes, round(http.bucket.waited, 3)
    if http.lowered_to is not None:
        stats.notes.append(
            f"{http.vendor} allows this key {http.lowered_to} requests a minute "
            f"({http.limit_header}): the rate was lowered to that"
        )
    for name, first in stats.first.items():
        if first > start:
            stats.notes.append(
                f"{name}: the first row is {first}, after the requested start {start} "
                "(the vendor holds no earlier rows at this interval, or none for this plan)"
            )
    return stats


def _cz_series(kind: str, step: int) -> Series:
    same = [pl.col("interval_s") == step]
    table: dict[str, Series] = {
        "oi": (OpenInterest, [], 1),
        "funding": (Funding, [~pl.col("is_settled")], 1),
        "predicted-funding": (
            Funding,
            [~pl.col("is_settled"), pl.col("predicted_rate").is_not_null()],
            1,
        ),
        "liquidations": (LiquidationBucket, same, 1),
        "long-short": (LongShortRatio, [pl.col("kind") == "global_accounts"], 1),
        "ohlcv": (Bar, [*same, pl.col("price_kind") == "trade"], 1),
    }
    return table[kind]


def _cg_series(kind: str, req: cg_api.Request, step: int) -> tuple[str, Series]:
    label = f"{req.pair}-{req.venues}" if req.single else req.symbol
    if kind == "liquidations":
        where = [pl.col("interval_s") == step, pl.col("venues") == req.venues]
        return req.symbol, (LiquidationBucket, where, 1)
    if kind == "oi":
        return label, (OpenInterest, [], 1)
    if kind == "funding":
        return label, (Funding, [~pl.col("is_settled")], 1)
    return req.symbol, (DepthBand, [pl.col("pct").abs() == float(req.depth_range)], 2)


async def download_coinalyze(
    client: cz_api.CoinalyzeClient,
    symbols: list[str],
    data: list[str],
    interval: str,
    start_ns: int,
    end_ns: int,
    *,
    recordings: Path,
    store: Store | None,
    progress: Progress | None = None,
) -> VendorStats:
    """Fetch ``data`` of ``symbols`` over ``[start, end)`` from Coinalyze (module doc)."""
    data = _check_data(data, COINALYZE_DATA)
    if "predicted-funding" in data and "funding" not in data:
        raise ConfigError(
            "--data predicted-funding is stored beside the funding rate: add funding "
            "(--data funding,predicted-funding)"
        )
    step = cz_api.interval_seconds(interval)
    pages = windows(start_ns // NS_PER_S, end_ns // NS_PER_S, step, client.config.page_rows)
    if not pages:
        raise ConfigError(
            f"no {interval} interval both starts and closes between --start and --end"
        )
    groups = chunks(symbols, client.config.symbols_per_call)
    stats = _stats("coinalyze", symbols, data, interval, pages[0].start * NS_PER_S, end_ns)
    recording = Recording(recordings, "coinalyze")
    stats.files.append(str(recording.path))
    reply = await client.markets()
    recording.add(reply)
    markets = cz.decode_markets(reply.url, reply.body)
    unknown = [s for s in symbols if s not in markets]
    if unknown:
        raise BadSymbol(
            f"Coinalyze lists no future {', '.join(unknown)} (symbols look like "
            "BTCUSDT_PERP.A: pair, _PERP, a dot and the venue code; see /future-markets)"
        )
    ledger = PageLedger(store, "coinalyze")
    job = PageRun(
        stats, recording, store, ledger, "coinalyze-api", len(groups) * len(pages), progress
    )
    decode = functools.partial(coinalyze_records, markets=markets)
    for group in groups:
        checks = [
            (cz.VENDOR, cz.series_symbol(sym), _cz_series(kind, step))
            for sym in group
            for kind in data
        ]
        for window in pages:
            calls: list[Call] = [
                (
                    client.url(kind, group, interval, window),
                    functools.partial(client.history, kind, group, interval, window),
                )
                for kind in data
            ]
            span = (*span_ns(window, step, NS_PER_S), step * NS_PER_S)
            await job.page(calls, decode, functools.partial(all_held, store, checks, span))
    return _finish(stats, client.http, stats.start)


async def download_coinglass(
    client: cg_api.CoinGlassClient,
    request: cg_api.Request,
    data: list[str],
    start_ns: int,
    end_ns: int,
    *,
    recordings: Path,
    store: Store | None,
    progress: Progress | None = None,
) -> VendorStats:
    """Fetch ``data`` of one coin over ``[start, end)`` from CoinGlass v4 (module doc)."""
    data = _check_data(data, COINGLASS_DATA)
    step_ms = cg_api.interval_seconds(request.interval, client.config.plan) * 1000
    start_ms, end_ms = start_ns // NS_PER_MS, end_ns // NS_PER_MS
    pages = windows(start_ms, end_ms, step_ms, client.config.page_rows)
    if not pages:
        raise ConfigError(
            f"no {request.interval} interval both starts and closes between --start and --end"
        )
    symbols = [request.symbol if not request.single else f"{request.pair}-{request.venues}"]
    stats = _stats("coinglass", symbols, data, request.interval, pages[0].start * NS_PER_MS, end_ns)
    recording = Recording(recordings, "coinglass")
    stats.files.append(str(recording.path))
    ledger = PageLedger(store, "coinglass")
    job = PageRun(stats, recording, store, ledger, "coinglass-api", len(pages), progress)
    checks = [(cg.VENDOR, *_cg_series(kind, request, step_ms // 1000)) for kind in data]
    for window in pages:
        calls: list[Call] = [
            (
                client.url(kind, request, window.start, window.end),
                functools.partial(client.history, kind, request, window.start, window.end),
            )
            for kind in data
        ]
        span = (*span_ns(window, step_ms, NS_PER_MS), step_ms * NS_PER_MS)
        await job.page(calls, coinglass_records, functools.partial(all_held, store, checks, span))
    return _finish(stats, client.http, stats.start)


def replay(path: Path, store: Store | None) -> VendorStats:
    """Decode a recording again (no network) and import it: what its download stored."""
    vendor = path.name.split("_rest_", 1)[0]
    if vendor not in ("coinalyze", "coinglass"):
        raise InputError(
            "not a vendor recording (coinalyze_rest_*.jsonl, coinglass_rest_*)", path=path
        )
    replies = read_recording(path)
    if vendor == "coinalyze":
        markets: dict[str, cz.FutureMarket] = {}
        for r in replies:
            if _params(r.url)[0].endswith(cz_api.MARKETS):
                markets.update(cz.decode_markets(r.url, r.body))
        records = coinalyze_records(replies, markets)
    else:
        records = coinglass_records(replies)
    stats = VendorStats(vendor=vendor, symbols=[], data=[], interval="", start="", end="")
    stats.files.append(str(path))
    added = {} if store is None else import_page(store, path, f"{vendor}-api", records)
    stats.pages = len(replies)
    stats.count(records, added)
    return stats


def _check_data(data: list[str], known: tuple[str, ...]) -> list[str]:
    bad = [d for d in data if d not in known]
    if bad or not data:
        raise ConfigError(f"--data {','.join(bad) or '(none)'}: choose from {','.join(known)}")
    return list(dict.fromkeys(data))


def _stats(
    vendor: str, symbols: list[str], data: list[str], interval: str, start_ns: int, end_ns: int
) -> VendorStats:
    return VendorStats(
        vendor=vendor,
        symbols=symbols,
        data=data,
        interval=interval,
        start=iso(start_ns),
        end=iso(end_ns),
    )
