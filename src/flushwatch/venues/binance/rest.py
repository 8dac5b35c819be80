"""Binance REST bodies that become records on their own (open-interest polls).

Binance streams no open interest (DOMAIN.md C10): the connector polls
``/fapi/v1/openInterest`` / ``/dapi/v1/openInterest`` and records each body, so the decoder
turns a body into one :class:`OpenInterest` row, live and on re-import alike.

Units (DOMAIN.md C10): USDⓈ-M reports base coins, so ``oi_base`` is the figure and
``oi_quote`` stays None (a price would have to be guessed); COIN-M reports CONTRACTS of a fixed
USD value, so ``oi_quote = contracts × contract size`` exactly and ``oi_base`` stays None for
the same reason. Both figures are one-sided (the contracts long, equal to those short).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from flushwatch.domain.enums import Market
from flushwatch.domain.records import OpenInterest
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.binance.symbols import Terms
from flushwatch.venues.binance.wire import OpenInterestBody

_BODY = msgspec.json.Decoder(OpenInterestBody, strict=False)


def open_interest(
    exchange: str,
    body: str | bytes,
    ts_recv: int | None,
    terms: Callable[[str], Terms],
) -> OpenInterest:
    """Decode one open-interest body; ``terms`` gives the symbol's market and contract size.

    Examples
    --------
    >>> from flushwatch.venues.binance.symbols import infer_terms
    >>> body = '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'
    >>> oi = open_interest("binanceusdm", body, None, lambda s: infer_terms("binanceusdm", s))
    >>> (oi.ts_event, oi.oi_base, oi.oi_quote)
    (1589437530011000000, 10659.509, None)
    """
    wire = _BODY.decode(body)
    found = terms(wire.symbol)
    if found.market is Market.SPOT:
        raise ValueError(f"open interest body for spot symbol {wire.symbol!r} ({exchange})")
    size = found.inverse_size
    return OpenInterest(
        ts_event=wire.time * NS_PER_MS,
        exchange=exchange,
        market=found.market,
        symbol=wire.symbol,
        ts_recv=ts_recv,
        oi_base=wire.openInterest if size is None else None,
        oi_quote=None if size is None else wire.openInterest * size,
    )
