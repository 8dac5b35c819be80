"""Binance spot, USDⓈ-M and COIN-M wire decoders (websocket streams and REST bodies)."""

from flushwatch.venues.binance.decode import BinanceDecoder, make_decoder
from flushwatch.venues.binance.symbols import exchange_of, snapshot_url

__all__ = ["BinanceDecoder", "exchange_of", "make_decoder", "snapshot_url"]
