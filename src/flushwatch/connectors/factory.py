"""Build a venue's live connector from what a user types: venue, symbols, streams, a TOML table.

One place for ``flushwatch record`` and ``flushwatch watch``, so both accept the same venues:

* native clients (the hot path): ``binanceusdm``, ``binancecoinm``, ``binance`` (spot),
  ``bybit`` (v5; ``category = "spot"`` in the TOML table for spot) and ``okx`` (v5);
* ``ccxt:<id>``: any other venue ccxt.pro can watch, through the adapter, labelled as such.

Symbols are the venue's own (``BTCUSDT``, OKX ``BTC-USDT-SWAP``), ccxt unified for the adapter
(``BTC/USDT:USDT``). The TOML table is the venue's connector configuration (endpoints,
timeouts, ...); its unknown keys are refused, naming the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from flushwatch.errors import ConfigError

NATIVE = ("binanceusdm", "binancecoinm", "binance", "bybit", "okx")
CCXT = "ccxt:"
#: Streams recorded/watched when none are given, per venue.
DEFAULT_STREAMS: dict[str, tuple[str, ...]] = {
    # USD-M market streams go to /market and book streams to /public (DOMAIN.md C3)
    "binanceusdm": ("aggTrade", "forceOrder", "markPrice@1s", "bookTicker", "depth@100ms"),
    "binancecoinm": ("aggTrade", "forceOrder", "markPrice@1s", "bookTicker", "depth@100ms"),
    "binance": ("trade", "bookTicker", "depth@100ms"),
    # tickers carry OI, funding, mark and index; allLiquidation is every liquidation (C1)
    "bybit": ("tickers", "orderbook.200", "publicTrade", "allLiquidation"),
    # liquidation-orders is subscribed per instrument type of the symbols
    "okx": (
        "books",
        "trades",
        "tickers",
        "funding-rate",
        "open-interest",
        "mark-price",
        "liquidation-orders",
    ),
    CCXT: ("trades", "liquidations"),
}


def _named_venues(raw: Mapping[str, Any]) -> list[str]:
    return [k for k in raw if k in NATIVE or k.startswith(CCXT) or k.endswith("-spot")]


def venue_section(
    raw: Mapping[str, Any], venue: str, *, source: object = "--config", also: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``--config`` table of ``venue``: ``[venue]``, or the whole file when it names none.

    A file may hold one table per venue (``[binanceusdm]``, ``[bybit]``, ``["ccxt:kraken"]``)
    or a single venue's keys at the top. A file with other venues' tables but not this one's
    (nor one of ``also``, tables that may stand in for it) is refused with a
    :class:`ConfigError` naming ``source``: it was meant for another venue, and resolving
    the venue's production endpoints from it would be silent. An empty ``[venue]`` table
    asks for the defaults explicitly.

    Examples
    --------
    >>> venue_section({"bybit": {"ws_base": "ws://127.0.0.1:9"}}, "bybit")
    {'ws_base': 'ws://127.0.0.1:9'}
    >>> venue_section({"binanceusdm": {}}, "binanceusdm")  # the defaults, asked for
    {}
    """
    for name in (venue, *also):
        found = raw.get(name)
        if isinstance(found, dict):
            return dict(found)
    named = _named_venues(raw)
    if not named:
        return dict(raw)
    wanted = " or ".join(f"[{n}]" for n in (venue, *also))
    raise ConfigError(
        f"{source} has tables for {', '.join(named)} but none for {venue}: add {wanted} "
        "(an empty table uses the venue's production endpoints)"
    )


def read_config(path: Path | None) -> dict[str, Any]:
    """Read a ``--config`` TOML file (empty without one); a bad file names itself."""
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config {path}: {exc}") from exc


def load_venue_config(path: Path | None, venue: str) -> dict[str, Any]:
    """Read a ``--config`` TOML file and return ``venue``'s table (see :func:`venue_section`)."""
    return venue_section(read_config(path), venue, source=f"--config {path}")


def venues_help() -> str:
    """The venue names a user can pass, for ``--help``."""
    return ", ".join(NATIVE) + f", or {CCXT}<ccxt id> (e.g. ccxt:kucoinfutures)"


def default_streams(venue: str) -> tuple[str, ...]:
    """The streams used when the user names none."""
    return DEFAULT_STREAMS[CCXT if venue.startswith(CCXT) else venue]


def build_connector(
    venue: str,
    symbols: Sequence[str],
    streams: Sequence[str] | None = None,
    section: Mapping[str, Any] | None = None,
) -> Any:
    """Return the connector (an async context manager with ``frames()`` and ``exchange``)."""
    if not symbols:
        raise ConfigError("give at least one symbol, e.g. BTCUSDT")
    kinds = tuple(streams) if streams else default_streams(_known(venue))
    conf = dict(section or {})
    # ``[<venue>.backfill]`` is for ``backfill``/``update``: one venue file serves all three
    conf.pop("backfill", None)
    if venue.startswith("binance"):
        from flushwatch.connectors.binance import BinanceConnector
        from flushwatch.connectors.config import load_config

        return BinanceConnector(venue, list(symbols), list(kinds), load_config(conf))
    if venue == "bybit":
        from flushwatch.connectors.bybit import BybitConfig, BybitConnector

        cfg = _convert({**conf, "symbols": tuple(symbols), "channels": kinds}, BybitConfig, venue)
        return BybitConnector(cfg)
    if venue == "okx":
        from flushwatch.connectors.okx import OkxConfig, OkxConnector

        liq = "liquidation-orders" in kinds
        channels = tuple(k for k in kinds if k != "liquidation-orders")
        kinds_of = OkxConfig(inst_ids=tuple(symbols)).inst_types()
        types = tuple(t for t in kinds_of if t != "SPOT")
        raw = {**conf, "inst_ids": tuple(symbols), "channels": channels}
        raw.setdefault("liquidation_inst_types", types if liq else ())
        return OkxConnector(_convert(raw, OkxConfig, venue))
    from flushwatch.connectors.ccxt_adapter import CcxtConfig, CcxtConnector

    exchange = venue[len(CCXT) :]
    cfg = _convert(
        {**conf, "exchange": exchange, "symbols": tuple(symbols), "streams": kinds},
        CcxtConfig,
        venue,
    )
    return CcxtConnector(cfg)


def _known(venue: str) -> str:
    if venue in NATIVE or (venue.startswith(CCXT) and len(venue) > len(CCXT)):
        return venue
    raise ConfigError(f"--venue {venue!r}: use {venues_help()}")


def _convert(raw: dict[str, Any], cls: type[Any], venue: str) -> Any:
    """``raw`` as ``cls``; a partial nested table (e.g. ``[bybit.session]`` with one key)
    keeps the venue's own defaults for the other keys, not the nested class's generic ones."""
    raw = dict(raw)
    for f in msgspec.structs.fields(cls):
        if isinstance(f.default, msgspec.Struct) and isinstance(raw.get(f.name), dict):
            raw[f.name] = {**msgspec.to_builtins(f.default), **raw[f.name]}
    try:
        return msgspec.convert(raw, cls)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"[{venue}] connector configuration: {exc}") from exc
