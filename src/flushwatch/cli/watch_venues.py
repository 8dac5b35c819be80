"""What ``flushwatch watch`` streams per venue, and how it wires each venue's books and URLs.

Every venue gives the view its perp flow (trades, liquidations, mark/index, funding, OI) and,
unless ``--book-stream none``, a sequence-checked book for depth ±1 % and spread; a spot
companion connection gives spot volume and price for spot-vs-perp and the basis. Connectors
come from :mod:`flushwatch.connectors.factory`, so ``record`` and ``watch`` accept the same
venues. The adapter venues (``ccxt:<id>``) keep no sequence-checked book: depth is then not
available, and said so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.live.bookview import BookSource

#: Perp streams the view needs, per venue (the book stream is added on top).
WATCH_STREAMS: dict[str, tuple[str, ...]] = {
    "binanceusdm": ("aggTrade", "forceOrder", "markPrice@1s"),
    "binancecoinm": ("aggTrade", "forceOrder", "markPrice@1s"),
    "binance": ("trade",),
    "bybit": ("tickers", "publicTrade", "allLiquidation"),
    "okx": (
        "trades",
        "tickers",
        "funding-rate",
        "open-interest",
        "mark-price",
        "liquidation-orders",
    ),
    "ccxt:": ("trades", "liquidations"),
}
#: The venue's default book stream (a diff stream its connector keeps with sequence checks).
BOOK_STREAMS: dict[str, str | None] = {
    "binanceusdm": "depth@100ms",
    "binancecoinm": "depth@100ms",
    "binance": "depth@100ms",
    "bybit": "orderbook.200",
    "okx": "books",
    "ccxt:": None,
}
#: The spot companion's venue and streams.
_SPOT: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "binanceusdm": ("binance", ("trade",), {}),
    "binancecoinm": ("binance", ("trade",), {}),
    "bybit": ("bybit", ("publicTrade",), {"category": "spot"}),
    "okx": ("okx", ("trades",), {}),
}


def _key(venue: str) -> str:
    return "ccxt:" if venue.startswith("ccxt:") else venue


def spot_symbol(venue: str, symbol: str) -> str:
    """The spot market of a perp symbol: OKX ``BTC-USDT-SWAP`` → ``BTC-USDT``; else the same.

    Coin-margined contracts (OKX ``BTC-USD-SWAP``, Binance ``BTCUSD_PERP``) have no USD spot
    market on the venue: their reference is the USDT one.
    """
    parts = symbol.split("-")
    if venue == "okx" and len(parts) >= 3:
        return f"{parts[0]}-{'USDT' if parts[1] == 'USD' else parts[1]}"
    if venue == "binancecoinm" and symbol.endswith("USD_PERP"):
        return symbol[: -len("USD_PERP")] + "USDT"
    return symbol


def book_stream_for(venue: str, asked: str | None) -> str | None:
    """The book stream to keep: the user's choice, the venue's default, or none."""
    if asked is None:
        return BOOK_STREAMS.get(_key(venue))
    if asked.lower() in ("", "none"):
        return None
    if venue.startswith("ccxt:"):
        raise ConfigError(f"--book-stream: {venue} keeps no sequence-checked book; use none")
    default = BOOK_STREAMS[_key(venue)] or ""
    if asked.split("@", 1)[0].split(".", 1)[0] != default.split("@", 1)[0].split(".", 1)[0]:
        raise ConfigError(f"--book-stream {asked!r}: {venue} books come from {default!r}")
    return asked


def build_connectors(
    venue: str,
    symbols: list[str],
    config: Path | None,
    *,
    spot: bool,
    book_stream: str | None,
) -> list[tuple[str, Any]]:
    """The venue's connector (first) and its spot companion, as ``(venue, connector)``."""
    from flushwatch.connectors.factory import build_connector, read_config, venue_section

    key = _key(venue)
    if key not in WATCH_STREAMS:
        from flushwatch.connectors.factory import venues_help

        raise ConfigError(f"--venue {venue!r}: watch supports {venues_help()}")
    raw = read_config(config)
    source = f"--config {config}"
    section = venue_section(raw, venue, source=source)
    streams = WATCH_STREAMS[key] + ((book_stream,) if book_stream else ())
    out = [(venue, build_connector(venue, symbols, streams, section))]
    companion = _SPOT.get(venue)
    if spot and companion is not None:
        spot_venue, spot_streams, extra = companion
        sym = list(dict.fromkeys(spot_symbol(venue, s) for s in symbols))
        if spot_venue == venue:  # same venue: same endpoints, the spot category
            spot_section = {**section, **extra}
        else:  # its own table: [binance-spot] or [binance]
            spot_section = _spot_section(raw, spot_venue, source)
        out.append((spot_venue, build_connector(spot_venue, sym, spot_streams, spot_section)))
    return out


def _spot_section(raw: Mapping[str, Any], spot_venue: str, source: str) -> dict[str, Any]:
    """The spot companion's table; a file without one (other venues' tables, or the perp's
    keys at the top) is refused rather than the companion silently using production hosts."""
    from flushwatch.connectors.factory import venue_section

    own = f"{spot_venue}-spot"
    if raw and not isinstance(raw.get(own, raw.get(spot_venue)), dict):
        raise ConfigError(
            f"{source} has no [{own}] or [{spot_venue}] table for the spot companion: add one "
            "(an empty table uses the production endpoints) or pass --no-spot"
        )
    return venue_section(raw, own, source=source, also=(spot_venue,))


def url_prefixes(venue: str, connector: Any) -> dict[str, str]:
    """URL prefixes of a connector's frames → exchange id (loopback or proxy hosts)."""
    if venue.startswith("binance"):
        ep = connector.endpoints
        return dict.fromkeys((ep.public_ws, ep.market_ws, ep.rest), venue)
    if venue == "bybit":
        return {p: venue for p in (connector.config.ws_base, connector.config.rest_base) if p}
    if venue == "okx":
        return {p: venue for p in (connector.config.ws_url, connector.config.rest_base) if p}
    return {}  # ccxt:<id> frames name their exchange in their URL


def book_sources(
    venue: str, connector: Any, okx_size: Callable[[str], float | None] | None = None
) -> Mapping[str, BookSource]:
    """The sequence-checked books a connector keeps, by symbol, as book views."""
    from flushwatch.live.bookview import LevelsView, binance_source, text_book_view

    if venue.startswith("binance"):
        books = getattr(connector, "books", None) or {}
        return {symbol: binance_source(book) for symbol, book in books.items()}
    wire = getattr(connector, "wire", None)
    if wire is None:
        return {}
    if venue == "bybit":
        inverse = connector.config.category == "inverse"
        channel = next((c for c in connector.config.channels if c.startswith("orderbook.")), None)
        if channel is None:
            return {}

        def bybit(topic: str) -> BookSource:
            return lambda: text_book_view(wire.books.get(topic), inverse=inverse)

        return {s: bybit(f"{channel}.{s}") for s in connector.config.symbols}
    if venue == "okx":
        channel = next((c for c in connector.config.channels if "books" in c), None)
        if channel is None:
            return {}

        def okx(inst: str) -> BookSource:
            def view() -> LevelsView:
                size = okx_size(inst) if okx_size is not None else None
                if size is None:  # contract value unknown: depth cannot be stated in coins
                    return LevelsView({}, {}, in_sync=False)
                inverse = inst.split("-")[1] == "USD"
                return text_book_view(
                    wire.books.get((channel, inst)), contract=size, inverse=inverse
                )

            return view

        return {s: okx(s) for s in connector.config.inst_ids}
    return {}
