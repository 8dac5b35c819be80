"""Turn Hyperliquid public websocket frames into domain records.

Normalization rules:

* Times: ``time`` is epoch milliseconds.
* ``l2Book`` pushes a full snapshot of the aggregated book every time: each push becomes
  snapshot :class:`BookUpdate` rows (bids then asks) sharing ``ts_event``. There are no sequence
  ids.
* ``trades``: ``side`` is the aggressor, "B" = buy and "A" = sell (notation docs, see
  :mod:`.wire`); ``sz`` is already base coins. The first push after subscribing replays recent
  trades, which overlap a previous connection's (DOMAIN.md C7): the store de-duplicates on the
  exchange fields, so nothing is dropped here.
* Markets: a plain coin ("BTC") is a USDC-margined linear perpetual with contract size 1 coin
  (``BTC/USDC:USDC``); "PURR/USDC" and "@<index>" names are spot pairs (the base of "@107" is only
  known from ``spotMeta``, so no Instrument is emitted for it); "dex:COIN" builder-deployed
  (HIP-3) perps are decoded without an Instrument. There is no public liquidation feed (C9).

Malformed frames raise :class:`msgspec.DecodeError` / :class:`msgspec.ValidationError` (naming
the field) or :class:`ValueError`; the recording readers map them to ``ParseError``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import msgspec

from flushwatch.domain.enums import BookSide, Margin, Market, Side
from flushwatch.domain.records import BookUpdate, Instrument, Record, Trade
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.hyperliquid import wire

EXCHANGE = "hyperliquid"
#: Trade ``side`` is the aggressor's (notation docs).
TAKER: dict[str, Side] = {"B": Side.BUY, "A": Side.SELL}

Handler = Callable[[msgspec.Raw, int | None], list[Record]]


def market_of(coin: str) -> Market:
    """Return the market a Hyperliquid coin name trades on.

    Examples
    --------
    >>> [market_of(c) for c in ("BTC", "@107", "PURR/USDC")]
    [<Market.PERP: 'perp'>, <Market.SPOT: 'spot'>, <Market.SPOT: 'spot'>]
    """
    return Market.SPOT if coin.startswith("@") or "/" in coin else Market.PERP


def _instrument(coin: str) -> Instrument | None:
    if ":" in coin or coin.startswith("@"):
        return None
    if "/" in coin:
        base, _, quote = coin.partition("/")
        return Instrument(
            exchange=EXCHANGE,
            market=Market.SPOT,
            symbol=coin,
            unified=coin,
            base=base,
            quote=quote,
            settle=None,
            margin=Margin.NONE,
        )
    return Instrument(
        exchange=EXCHANGE,
        market=Market.PERP,
        symbol=coin,
        unified=f"{coin}/USDC:USDC",
        base=coin,
        quote="USDC",
        settle="USDC",
        margin=Margin.LINEAR,
        contract_size=1.0,  # sizes are coins (notation docs)
    )


class HyperliquidDecoder:
    """Decoder for Hyperliquid's public ``l2Book`` and ``trades`` channels."""

    def __init__(self) -> None:
        self.instruments: list[Instrument] = []
        #: Frames that produced no records on purpose, by reason.
        self.skipped: Counter[str] = Counter()
        self._seen: set[str] = set()
        self._envelope = msgspec.json.Decoder(wire.Envelope)
        self._book = msgspec.json.Decoder(wire.Book, strict=False)
        self._trades = msgspec.json.Decoder(list[wire.Trade], strict=False)
        self._handlers: dict[str, Handler] = {"l2Book": self._on_book, "trades": self._on_trades}

    def _see(self, coin: str) -> Market:
        if coin not in self._seen:
            self._seen.add(coin)
            inst = _instrument(coin)
            if inst is not None:
                self.instruments.append(inst)
        return market_of(coin)

    def on_message(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one websocket frame; acks, pongs and other channels yield no records."""
        env = self._envelope.decode(data)
        handler = self._handlers.get(env.channel)
        if handler is None:
            self.skipped[f"{env.channel} frames"] += 1
            return []
        return handler(env.data, ts_recv)

    def on_http(self, url: str, body: str | bytes, ts_recv: int | None) -> list[Record]:
        """Count REST bodies: none are decoded yet (``/info`` meta would give spot names)."""
        self.skipped["REST responses"] += 1
        return []

    def _on_book(self, data: msgspec.Raw, ts_recv: int | None) -> list[Record]:
        book = self._book.decode(data)
        market = self._see(book.coin)
        ts_event = book.time * NS_PER_MS
        bids, asks = book.levels
        return [
            BookUpdate(
                ts_event=ts_event,
                exchange=EXCHANGE,
                market=market,
                symbol=book.coin,
                ts_recv=ts_recv,
                side=side,
                price=level.px,
                qty=level.sz,
                is_snapshot=True,  # every l2Book push is the whole (aggregated) book
            )
            for side, levels in ((BookSide.BID, bids), (BookSide.ASK, asks))
            for level in levels
        ]

    def _on_trades(self, data: msgspec.Raw, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for t in self._trades.decode(data):
            side = TAKER.get(t.side)
            if side is None:
                raise ValueError(f"field 'side': trade side {t.side!r} is neither B nor A")
            out.append(
                Trade(
                    ts_event=t.time * NS_PER_MS,
                    exchange=EXCHANGE,
                    market=self._see(t.coin),
                    symbol=t.coin,
                    ts_recv=ts_recv,
                    price=t.px,
                    qty=t.sz,
                    taker_side=side,
                    trade_id=str(t.tid),
                )
            )
        return out


def make_decoder(url: str | None = None) -> HyperliquidDecoder:
    """Build a Hyperliquid decoder (mainnet and testnet send the same shapes)."""
    del url
    return HyperliquidDecoder()
