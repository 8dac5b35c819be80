"""OKX v5 wire decoders (public websocket channels and the instruments REST body)."""

from flushwatch.venues.okx.decode import OkxDecoder, make_decoder
from flushwatch.venues.okx.liquidations import liquidated_side
from flushwatch.venues.okx.symbols import DEFAULT_SIZES

__all__ = ["DEFAULT_SIZES", "OkxDecoder", "liquidated_side", "make_decoder"]
