"""Bybit v5 wire decoders (linear, inverse and spot websocket topics, instruments-info)."""

from flushwatch.venues.bybit.decode import BybitDecoder, category_of, make_decoder

__all__ = ["BybitDecoder", "category_of", "make_decoder"]
