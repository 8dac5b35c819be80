"""Endpoints and connection settings per venue: configuration, never constants in client code.

The defaults are the real Binance hosts (used only by a real deployment); tests build a
config pointing every URL at the loopback exchange. Unknown keys are rejected, so a typo in
a TOML file fails at startup instead of silently using a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from flushwatch.errors import ConfigError

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class Endpoints(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where one venue lives: websocket bases per path tier and the REST base."""

    #: Websocket base of high-frequency book streams (depth, bookTicker, trade).
    public_ws: str
    #: Websocket base of the other market streams (aggTrade, markPrice, forceOrder, kline).
    market_ws: str
    #: REST base (depth snapshots, open-interest polls, exchangeInfo); ccxt calls only this.
    rest: str


#: The real hosts. USDⓈ-M splits ``/public`` and ``/market`` since 2026-04-23 (DOMAIN.md C3);
#: spot and COIN-M serve every stream on one base.
DEFAULT_ENDPOINTS: Mapping[str, Endpoints] = {
    "binanceusdm": Endpoints(
        public_ws="wss://fstream.binance.com/public",
        market_ws="wss://fstream.binance.com/market",
        rest="https://fapi.binance.com",
    ),
    "binance": Endpoints(
        public_ws="wss://stream.binance.com:9443",
        market_ws="wss://stream.binance.com:9443",
        rest="https://api.binance.com",
    ),
    "binancecoinm": Endpoints(
        public_ws="wss://dstream.binance.com",
        market_ws="wss://dstream.binance.com",
        rest="https://dapi.binance.com",
    ),
    # Bybit v5 and OKX v5 (``flushwatch backfill``; their streams use BybitConfig/OkxConfig).
    "bybit": Endpoints(
        public_ws="wss://stream.bybit.com/v5/public",
        market_ws="wss://stream.bybit.com/v5/public",
        rest="https://api.bybit.com",
    ),
    "okx": Endpoints(
        public_ws="wss://ws.okx.com:8443/ws/v5/public",
        market_ws="wss://ws.okx.com:8443/ws/v5/business",
        rest="https://www.okx.com",
    ),
}


class Backoff(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Exponential backoff with jitter for reconnects and REST retries."""

    initial: PositiveFloat = 0.5
    maximum: PositiveFloat = 30.0
    factor: Annotated[float, msgspec.Meta(ge=1)] = 2.0
    #: Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter].
    jitter: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.25
    #: Give up a REST call after this many seconds of retrying in total.
    timeout: PositiveFloat = 120.0


class ConnectorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of one venue connector (endpoints default to the venue's real hosts)."""

    endpoints: Endpoints | None = None
    backoff: Backoff = Backoff()
    #: Frames buffered between the network and the consumer before ``backpressure``.
    queue_size: PositiveInt = 10_000
    #: A socket reader waits this long for a full queue before it gives the connection up.
    stall_timeout: PositiveFloat = 10.0
    #: Planned reconnect before the venue's 24 h connection limit (seconds of connection age).
    lifetime: PositiveFloat = 23.5 * 3600
    #: Seconds both connections run side by side on a planned reconnect (frames de-duplicated).
    overlap: PositiveFloat = 10.0
    #: Expected maximum silence per stream kind (the part after ``<symbol>@``), seconds.
    #: ``forceOrder`` is absent on purpose: liquidations can be silent for minutes (C8); the
    #: connection that carries it is watched through its other streams.
    expected_interval: dict[str, PositiveFloat] = msgspec.field(
        default_factory=lambda: {
            "depth": 10.0,
            "bookTicker": 10.0,
            "trade": 60.0,
            "aggTrade": 60.0,
            "markPrice": 10.0,
            "kline": 10.0,
        }
    )
    #: Fetch and record the venue's exchangeInfo once at start, before any stream, so a
    #: recording carries the contract terms its decoder learns. Off by default, so the REST
    #: frames stay the depth and open-interest bodies alone unless asked for.
    exchange_info: bool = False
    #: Depth levels asked for in REST snapshots.
    snapshot_limit: PositiveInt = 1000
    #: Seconds between open-interest polls per symbol on USDⓈ-M/COIN-M (None: no polling).
    #: Weight 1 a poll: 20 symbols every 5 s spend 240 of the 2,400 weight/min per IP.
    oi_interval: PositiveFloat | None = 5.0
    #: Server-ping keepalive of our side, seconds (None: answer the venue's pings only).
    ping_interval: PositiveFloat | None = 20.0
    open_timeout: PositiveFloat = 10.0


#: The reserved ``--config`` table of the Binance Vision downloader, beside the venue tables.
VISION_TABLE = "binance_vision"


class VisionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the Binance Vision archive lives and how hard to try (``[binance_vision]``)."""

    #: The host root: ``/data/futures/um/daily/klines/...`` is appended to it.
    base_url: str = "https://data.binance.vision"
    #: Seconds one request may take (connect, or a pause between two reads).
    timeout: PositiveFloat = 60.0
    #: Retries of a transient failure (HTTP 5xx/429, a dropped connection), with ``backoff``.
    backoff: Backoff = Backoff(timeout=300.0)


def load_config(raw: Mapping[str, Any]) -> ConnectorConfig:
    """Build a :class:`ConnectorConfig` from parsed TOML/JSON; unknown keys are errors.

    A ``[binance_vision]`` table (the downloader's, :func:`load_vision_config`) is not a
    connector key and is left out, so one file can configure both.
    """
    try:
        other = (VISION_TABLE, "coinalyze", "coinglass")  # downloaders' tables (vendor_config)
        return msgspec.convert({k: v for k, v in raw.items() if k not in other}, ConnectorConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"connector configuration: {exc}") from exc


def load_vision_config(raw: Mapping[str, Any]) -> VisionConfig:
    """Build the downloader's settings from a whole ``--config`` file's ``[binance_vision]``.

    Examples
    --------
    >>> load_vision_config({}).base_url
    'https://data.binance.vision'
    >>> load_vision_config({"binance_vision": {"base_url": "http://127.0.0.1:9"}}).base_url
    'http://127.0.0.1:9'
    """
    table = raw.get(VISION_TABLE, {})
    try:
        cfg = msgspec.convert(table, VisionConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"[{VISION_TABLE}]: {exc}") from exc
    if not cfg.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"[{VISION_TABLE}] base_url {cfg.base_url!r}: give an http(s) URL")
    return cfg


def json_schema() -> dict[str, Any]:
    """Return the JSON schema of :class:`ConnectorConfig` (for editors and the settings page)."""
    return msgspec.json.schema(ConnectorConfig)
