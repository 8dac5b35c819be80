"""Which Binance Vision files cover a window: the pure planning half of
``flushwatch download binance-vision`` (no I/O, no clock: ``today`` is an argument).

The archive (README of github.com/binance/binance-public-data, and its download scripts per
market and period) holds one zip per symbol and UTC day (``daily``) or calendar month
(``monthly``) under ``data/{spot|futures/um|futures/cm}/{period}/{dataset}/{SYMBOL}/
[{interval}/]{SYMBOL}-{interval or dataset}-{YYYY-MM-DD|YYYY-MM}.zip``. A day's file appears
the next day; a month's from the start of the next month (the README says by its first
Monday, which is the date used here). Not every dataset has both periods:

=====================  ==============  =====  =======  ==========================================
dataset                venues          daily  monthly  note
=====================  ==============  =====  =======  ==========================================
klines                 spot, um, cm    yes    yes      daily files for intervals up to 1d only
markPriceKlines        um, cm          yes    yes
indexPriceKlines       um, cm          yes    yes
premiumIndexKlines     um, cm          yes    yes
aggTrades, trades      spot, um, cm    yes    yes
bookTicker             um, cm          yes    yes
fundingRate            um, cm          no     yes      the current month comes from REST backfill
metrics                um, cm          yes    no
bookDepth              um              yes    no       COIN-M units undocumented: not imported
liquidationSnapshot    um, cm          yes    no       USDⓈ-M files stop in 2024 (404s listed)
=====================  ==============  =====  =======  ==========================================

``auto`` (the default) takes a monthly file for every month wholly inside the window and
published by ``today``, daily files for the rest; ``daily`` / ``monthly`` force one period
where the dataset has it (the other where it has not, with a note).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import msgspec

from flushwatch.errors import ConfigError
from flushwatch.venues.binance.intervals import INTERVALS

ROOTS = {"binance": "spot", "binanceusdm": "futures/um", "binancecoinm": "futures/cm"}
KLINE_DATASETS = ("klines", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines")
PERIODS = ("auto", "daily", "monthly")


class Availability(msgspec.Struct, frozen=True):
    """Where and how one dataset is published."""

    venues: frozenset[str]
    daily: bool
    monthly: bool


_ALL = frozenset(ROOTS)
_FUT = frozenset({"binanceusdm", "binancecoinm"})
DATASETS: dict[str, Availability] = {
    "klines": Availability(_ALL, daily=True, monthly=True),
    "markPriceKlines": Availability(_FUT, daily=True, monthly=True),
    "indexPriceKlines": Availability(_FUT, daily=True, monthly=True),
    "premiumIndexKlines": Availability(_FUT, daily=True, monthly=True),
    "aggTrades": Availability(_ALL, daily=True, monthly=True),
    "trades": Availability(_ALL, daily=True, monthly=True),
    "bookTicker": Availability(_FUT, daily=True, monthly=True),
    "fundingRate": Availability(_FUT, daily=False, monthly=True),
    "metrics": Availability(_FUT, daily=True, monthly=False),
    "bookDepth": Availability(frozenset({"binanceusdm"}), daily=True, monthly=False),
    "liquidationSnapshot": Availability(_FUT, daily=True, monthly=False),
}
#: Kline intervals with monthly files only (the archive's daily intervals stop at 1d).
_MONTHLY_ONLY_INTERVALS = ("3d", "1w")


class VisionFile(msgspec.Struct, frozen=True, kw_only=True):
    """One archive zip: what it holds and where it lives under the host root."""

    dataset: str
    symbol: str
    period: str
    #: ``YYYY-MM-DD`` for a daily file, ``YYYY-MM`` for a monthly one.
    label: str
    interval: str | None
    #: ``data/...zip`` (its sidecar is this plus ``.CHECKSUM``).
    path: str
    #: First and last UTC day the file covers.
    first: date
    last: date


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """The files to fetch, in order, and what the plan left out and why."""

    files: list[VisionFile]
    notes: list[str]


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def monthly_published(month_start: date, today: date) -> bool:
    """Whether the monthly file of ``month_start``'s month is out by ``today``.

    Examples
    --------
    >>> monthly_published(date(2024, 1, 1), date(2024, 2, 4))  # first Monday is 02-05
    False
    >>> monthly_published(date(2024, 1, 1), date(2024, 2, 5))
    True
    """
    nxt = month_end(month_start) + timedelta(days=1)
    first_monday = nxt + timedelta(days=(7 - nxt.weekday()) % 7)
    return today >= first_monday


def file_for(
    venue: str, dataset: str, symbol: str, period: str, day: date, interval: str | None
) -> VisionFile:
    """The archive file of one dataset, symbol and day (the day's month for ``monthly``).

    Examples
    --------
    >>> file_for("binancecoinm", "klines", "BTCUSD_PERP", "daily", date(2023, 10, 27), "1h").path
    'data/futures/cm/daily/klines/BTCUSD_PERP/1h/BTCUSD_PERP-1h-2023-10-27.zip'
    >>> file_for("binanceusdm", "fundingRate", "BTCUSDT", "monthly", date(2021, 5, 19), None).path
    'data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2021-05.zip'
    """
    if period == "monthly":
        first, last, label = day.replace(day=1), month_end(day), f"{day:%Y-%m}"
    else:
        first, last, label = day, day, day.isoformat()
    kline = dataset in KLINE_DATASETS
    folder = f"data/{ROOTS[venue]}/{period}/{dataset}/{symbol}/"
    name = f"{symbol}-{interval if kline else dataset}-{label}.zip"
    return VisionFile(
        dataset=dataset,
        symbol=symbol,
        period=period,
        label=label,
        interval=interval if kline else None,
        path=folder + (f"{interval}/" if kline else "") + name,
        first=first,
        last=last,
    )


def _check(venue: str, datasets: list[str], interval: str, period: str) -> None:
    if venue not in ROOTS:
        raise ConfigError(f"--venue {venue!r}: choose one of {', '.join(ROOTS)}")
    if period not in PERIODS:
        raise ConfigError(f"--period {period!r}: choose daily or monthly (default: both, auto)")
    if not datasets:
        raise ConfigError("--data: name at least one dataset, e.g. klines,fundingRate,metrics")
    for ds in datasets:
        avail = DATASETS.get(ds)
        if avail is None:
            raise ConfigError(f"--data {ds!r}: choose from {', '.join(DATASETS)}")
        if venue not in avail.venues:
            raise ConfigError(
                f"--data {ds}: Binance Vision publishes it for "
                f"{', '.join(sorted(avail.venues))} only, not {venue}"
                + (" (COIN-M bookDepth units are undocumented)" if ds == "bookDepth" else "")
            )
    if any(ds in KLINE_DATASETS for ds in datasets):
        if interval not in INTERVALS:
            raise ConfigError(
                f"--interval {interval!r}: choose one of {', '.join(INTERVALS)} "
                "(1mo bars have no fixed length and are not imported)"
            )
        if interval == "1s" and venue != "binance":
            raise ConfigError("--interval 1s exists for spot (--venue binance) only")


def _periods(dataset: str, interval: str, period: str, notes: list[str]) -> tuple[bool, bool]:
    """(use daily files, use monthly files) for one dataset under ``--period``."""
    avail = DATASETS[dataset]
    daily, monthly = avail.daily, avail.monthly
    if dataset in KLINE_DATASETS and interval in _MONTHLY_ONLY_INTERVALS:
        daily = False
    if period == "daily" and not daily:
        notes.append(f"{dataset}: published monthly only; monthly files are used")
        return False, True
    if period == "monthly" and not monthly:
        notes.append(f"{dataset}: published daily only; daily files are used")
        return True, False
    if period == "daily":
        return True, False
    if period == "monthly":
        return False, True
    return daily, monthly


def plan(
    venue: str,
    datasets: list[str],
    symbols: list[str],
    start: date,
    end: date,
    *,
    today: date,
    interval: str = "1h",
    period: str = "auto",
) -> Plan:
    """List the files covering ``start``..``end`` (UTC days, both included) as of ``today``.

    Days from ``today`` on are not published yet and are left out with a note (the REST
    ``backfill`` covers them); so are months not yet published, for monthly-only datasets.
    """
    _check(venue, datasets, interval, period)
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}")
    notes: list[str] = []
    last_published = today - timedelta(days=1)
    if end > last_published:
        notes.append(
            f"days from {max(start, today)} on are not published yet (a day's file appears "
            "the next day): use `flushwatch backfill` for them"
        )
        end = last_published
    files: list[VisionFile] = []
    if end < start:
        return Plan(files=files, notes=notes)
    for ds in datasets:
        use_daily, use_monthly = _periods(ds, interval, period, notes)
        for sym in symbols:
            files += _files(venue, ds, sym, start, end, today, interval, use_daily, use_monthly)
        late = [m for m in _months(start, end) if not monthly_published(m, today)]
        if not use_daily and late:
            notes.append(
                f"{ds} monthly files of {', '.join(f'{m:%Y-%m}' for m in late)} are not "
                "published yet (left out): use `flushwatch backfill` for them"
            )
    return Plan(files=files, notes=notes)


def daily_instead(venue: str, f: VisionFile, start: date, end: date) -> list[VisionFile]:
    """The daily files standing in for a monthly file not out yet (none if it has none).

    Examples
    --------
    >>> m = file_for("binance", "klines", "BTCUSDT", "monthly", date(2024, 2, 1), "1h")
    >>> [d.label for d in daily_instead("binance", m, date(2024, 1, 1), date(2024, 2, 2))]
    ['2024-02-01', '2024-02-02']
    """
    if f.period != "monthly" or not DATASETS[f.dataset].daily:
        return []
    if f.interval in _MONTHLY_ONLY_INTERVALS:
        return []
    days = []
    day = max(f.first, start)
    while day <= min(f.last, end):
        days.append(file_for(venue, f.dataset, f.symbol, "daily", day, f.interval))
        day += timedelta(days=1)
    return days


def _months(start: date, end: date) -> list[date]:
    out = []
    month = start.replace(day=1)
    while month <= end:
        out.append(month)
        month = month_end(month) + timedelta(days=1)
    return out


def _files(
    venue: str,
    ds: str,
    sym: str,
    start: date,
    end: date,
    today: date,
    interval: str,
    use_daily: bool,
    use_monthly: bool,
) -> list[VisionFile]:
    out: list[VisionFile] = []
    month = start.replace(day=1)
    while month <= end:
        last = month_end(month)
        whole = start <= month and last <= end
        published = monthly_published(month, today)
        if use_monthly and published and (whole or not use_daily):
            out.append(file_for(venue, ds, sym, "monthly", month, interval))
        elif use_daily:
            day = max(month, start)
            while day <= min(last, end):
                out.append(file_for(venue, ds, sym, "daily", day, interval))
                day += timedelta(days=1)
        month = last + timedelta(days=1)
    return out
