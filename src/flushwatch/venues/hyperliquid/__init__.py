"""Hyperliquid wire decoders (public ``l2Book`` and ``trades`` websocket channels)."""

from flushwatch.venues.hyperliquid.decode import HyperliquidDecoder, make_decoder, market_of

__all__ = ["HyperliquidDecoder", "make_decoder", "market_of"]
