"""Decode the ccxt.pro adapter's frames (ccxt-normalized JSON) into domain records.

The adapter (:mod:`flushwatch.connectors.ccxt_adapter`) wraps each ``watch_trades`` /
``watch_order_book`` / ``watch_liquidations`` result as ``{"stream", "symbol", "id", "type",
"data"}`` with the frame URL ``ccxt:<exchange id>``; this module is the venue-layer decoder of
those frames, so live decoding, the recorder and re-imports share it like any venue's.

Liquidation sides: ccxt passes the venue's raw ``side`` through (DOMAIN.md C5: Binance and OKX
send the order side, Bybit the position side). The decoder must know which; the venues whose
convention is documented are built in, any other needs ``liquidation_side`` (else a liquidation
frame raises :class:`~flushwatch.errors.NotSupported` rather than guessing). Coverage is UNKNOWN:
ccxt does not say whether the feed is sampled.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from flushwatch.domain.enums import Coverage, Market, PositionSide, Side
from flushwatch.domain.records import BookDelta, Instrument, Liquidation, Record, Trade
from flushwatch.errors import NotSupported

_MARKETS = {"spot": Market.SPOT, "swap": Market.PERP, "future": Market.FUTURE}
LiquidationSide = Literal["order", "position"]
#: What ccxt's liquidation ``side`` means per venue (DOMAIN.md C5).
KNOWN_LIQUIDATION_SIDE: dict[str, LiquidationSide] = {
    "binance": "order",
    "binanceusdm": "order",
    "binancecoinm": "order",
    "okx": "order",
    "bybit": "position",
}


class CcxtDecoder:
    """Turn the adapter's frames (ccxt-normalized JSON) into domain records."""

    def __init__(self, exchange: str, liquidation_side: LiquidationSide | None = None) -> None:
        self.exchange = exchange
        self.liquidation_side = liquidation_side
        self.instruments: list[Instrument] = []

    def on_http(self, url: str, body: str | bytes, ts_recv: int | None) -> list[Record]:
        """The adapter sends no REST bodies."""
        return []

    def on_message(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one adapter frame."""
        msg = json.loads(data)
        market = _MARKETS.get(msg.get("type") or "", Market.PERP)
        symbol, payload = msg["id"], msg["data"]
        if msg["stream"] == "trades":
            return [self._trade(t, market, symbol, ts_recv) for t in payload]
        if msg["stream"] == "book":
            return self._book(payload, market, symbol, ts_recv)
        return [self._liquidation(x, market, symbol, ts_recv) for x in payload]

    def _trade(self, t: dict[str, Any], market: Market, symbol: str, ts: int | None) -> Trade:
        return Trade(
            ts_event=int(t["timestamp"]) * 1_000_000,
            exchange=self.exchange,
            market=market,
            symbol=symbol,
            ts_recv=ts,
            price=float(t["price"]),
            qty=float(t["amount"]) * float(t.get("contractSize") or 1.0)
            if market != Market.SPOT
            else float(t["amount"]),
            taker_side=Side(t["side"]),
            trade_id=None if t.get("id") is None else str(t["id"]),
        )

    def _book(
        self, book: dict[str, Any], market: Market, symbol: str, ts: int | None
    ) -> list[Record]:
        ts_event = int(book.get("timestamp") or (ts or 0) // 1_000_000) * 1_000_000
        nonce = book.get("nonce")
        bids = [(float(lv[0]), float(lv[1])) for lv in book["bids"]]
        asks = [(float(lv[0]), float(lv[1])) for lv in book["asks"]]
        if not (bids or asks):
            return []
        return [
            BookDelta(
                ts_event=ts_event,
                exchange=self.exchange,
                market=market,
                symbol=symbol,
                ts_recv=ts,
                is_snapshot=True,  # ccxt hands over the whole (top of) book each time
                bids=bids,
                asks=asks,
                update_id=int(nonce) if nonce is not None else None,
            )
        ]

    def _liquidation(
        self, x: dict[str, Any], market: Market, symbol: str, ts: int | None
    ) -> Liquidation:
        venue_side = str((x.get("info") or {}).get("side") or x.get("side") or "")
        if self.liquidation_side is None:
            raise NotSupported(
                f"{self.exchange}: tell the decoder whether ccxt's liquidation side is the order"
                " or the position side (DOMAIN.md C5)"
            )
        buy = venue_side.lower() == "buy"
        long = buy if self.liquidation_side == "position" else not buy
        price = float(x["price"])
        qty = float(x.get("baseValue") or float(x["contracts"]) * float(x.get("contractSize") or 1))
        return Liquidation(
            ts_event=int(x["timestamp"]) * 1_000_000,
            exchange=self.exchange,
            market=market,
            symbol=symbol,
            ts_recv=ts,
            side=PositionSide.LONG if long else PositionSide.SHORT,
            price=price,
            qty=qty,
            notional=float(x.get("quoteValue") or qty * price),
            venue_side=venue_side,
            coverage=Coverage.UNKNOWN,
        )


def make_decoder(url: str, liquidation_side: LiquidationSide | None = None) -> CcxtDecoder:
    """Build the decoder for frames whose url is ``ccxt:<exchange id>``."""
    scheme, _, exchange = url.partition(":")
    if scheme != "ccxt" or not exchange:
        raise ValueError(f"not a ccxt adapter url: {url!r}")
    return CcxtDecoder(exchange, liquidation_side or KNOWN_LIQUIDATION_SIDE.get(exchange))
