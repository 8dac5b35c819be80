"""Turn OKX v5 public websocket frames and REST bodies into domain records.

Frames are dispatched on ``arg.channel`` through a table; each ``data`` array is decoded by a
reusable typed decoder.

Normalization rules (each is the one place it happens):

* Times: OKX sends epoch milliseconds as strings; ``ts`` of each data element is ``ts_event``.
* Quantities are base units: SWAP/FUTURES sizes are contracts, converted with the contract value
  of :mod:`.symbols` (``ctVal`` from an instruments body, else a documented default listed in
  :attr:`OkxDecoder.assumed`); SPOT sizes are already base. Frames of an instrument whose
  contract value is unknown are skipped and counted rather than guessed.
* Books: ``books`` sends a snapshot then updates (``action``); ``books5`` and ``bbo-tbt`` send a
  full top-N snapshot on every push. ``seqId``/``prevSeqId`` become ``update_id``/
  ``prev_update_id`` for gap detection. The CRC32 ``checksum`` is NOT verified yet (later work:
  it needs the reconstructed book, which a stateless row decoder does not keep).
* Trades: ``side`` is the taker side (trades channel docs).
* Tickers: every push is a full snapshot with best bid/ask and last price; it becomes a Quote
  (sizes converted like book levels) and a MarkPrice row carrying ``last_price`` only.
* ``funding-rate``: ``fundingRate`` is the current rate, settled at ``fundingTime`` (the next
  funding), so ``is_settled=False`` (DOMAIN.md C12); ``nextFundingRate`` is the forecast for the
  period after, the interval is ``nextFundingTime - fundingTime``.
* ``open-interest``: ``oi`` contracts, ``oiCcy`` coins, ``oiUsd`` USD. OKX documents no
  double counting (unlike Bybit, DOMAIN.md C10): stored as one-sided. ``oi_quote`` is ``oiUsd``
  (USD, which approximates USDT for USDT-margined swaps).
* ``liquidation-orders``: order side vs ``posSide``, bankruptcy price, THROTTLED coverage: see
  :mod:`.liquidations`; a contradiction between ``side`` and ``posSide`` is counted in
  :attr:`OkxDecoder.anomalies`.
* ``index-tickers``: the index id shares the spot pair's name ("BTC-USDT"): a spot MarkPrice row
  with ``index_price``.

Malformed frames raise :class:`msgspec.DecodeError` / :class:`msgspec.ValidationError` (naming
the field) or :class:`ValueError` naming the field; the recording readers map them to
``ParseError`` with file and line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec

from flushwatch.domain.enums import Market, Side
from flushwatch.domain.records import (
    BookDelta,
    Funding,
    Instrument,
    MarkPrice,
    OpenInterest,
    Quote,
    Record,
    Trade,
)
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.okx import history, wire
from flushwatch.venues.okx.liquidations import liquidated_side, liquidation, number
from flushwatch.venues.okx.symbols import EXCHANGE, Terms, infer_terms, learned_terms

_CONTRADICTION = "liquidations whose side contradicts posSide (posSide used)"
_TAKER: dict[str, Side] = {"buy": Side.BUY, "sell": Side.SELL}
_BOOKS = ("books", "books5", "bbo-tbt", "books-l2-tbt", "books50-l2-tbt", "books-elp")
#: Channels that push a full top-N snapshot every time (no ``action``).
_SNAPSHOT_BOOKS = ("books5", "bbo-tbt")

Handler = Callable[[wire.Envelope, int | None], list[Record]]


class OkxDecoder:
    """Stateful decoder for OKX v5 public channels: learns contract values from REST bodies."""

    def __init__(self) -> None:
        self.instruments: list[Instrument] = []
        #: Frames or rows that produced no records on purpose, by reason.
        self.skipped: Counter[str] = Counter()
        #: Rows decoded despite a venue inconsistency, by kind (for an import note).
        self.anomalies: Counter[str] = Counter()
        #: Instrument id → source of the contract value assumed for it (no instruments body).
        self.assumed: dict[str, str] = {}
        self._learned: dict[str, Terms] = {}
        self._terms: dict[str, Terms | None] = {}
        self._envelope = msgspec.json.Decoder(wire.Envelope)
        self._books = msgspec.json.Decoder(list[wire.Book], strict=False)
        self._trades = msgspec.json.Decoder(list[wire.PublicTrade], strict=False)
        self._tickers = msgspec.json.Decoder(list[wire.Ticker], strict=False)
        self._funding = msgspec.json.Decoder(list[wire.FundingRate], strict=False)
        self._oi = msgspec.json.Decoder(list[wire.OpenInterestData], strict=False)
        self._mark = msgspec.json.Decoder(list[wire.MarkPx], strict=False)
        self._index = msgspec.json.Decoder(list[wire.IndexTicker], strict=False)
        self._liq = msgspec.json.Decoder(list[wire.LiquidationOrders], strict=False)
        self._info = msgspec.json.Decoder(wire.InstrumentsBody)
        self._handlers: dict[str, Handler] = dict.fromkeys(_BOOKS, self._on_books)
        self._handlers.update(
            {
                "trades": self._on_trades,
                "trades-all": self._on_trades,
                "tickers": self._on_tickers,
                "funding-rate": self._on_funding,
                "open-interest": self._on_open_interest,
                "mark-price": self._on_mark,
                "index-tickers": self._on_index,
                "liquidation-orders": self._on_liquidations,
            }
        )

    # -- symbols ---------------------------------------------------------------------------

    def terms(self, inst_id: str) -> Terms | None:
        """Return (and remember, emitting its Instrument once) the terms of ``inst_id``."""
        if inst_id in self._terms:
            return self._terms[inst_id]
        found = self._learned.get(inst_id) or infer_terms(inst_id)
        self._terms[inst_id] = found
        if found is not None:
            if found.instrument is not None:
                self.instruments.append(found.instrument)
            if found.assumed is not None:
                self.assumed[inst_id] = found.assumed
        return found

    def _known(self, inst_id: str, channel: str) -> Terms | None:
        """Terms with a usable contract value, or None after counting the skip."""
        terms = self.terms(inst_id)
        if terms is None or terms.size is None:
            why = "not decoded (options, spreads)" if terms is None else "unknown contract value"
            self.skipped[f"{channel} items of instruments {why}"] += 1
            return None
        return terms

    def _learn(self, body: str | bytes) -> None:
        env = self._info.decode(body)
        if env.code != "0":
            self.skipped[f"REST error responses ({env.msg})"] += 1
            return
        for info in env.data:
            terms = learned_terms(info)
            if terms is None:
                continue
            self._learned[info.instId] = terms
            if info.instId in self._terms:  # seen before the instruments body: replace terms
                old = self._terms.pop(info.instId)
                if old is not None and old.instrument is not None:
                    self.instruments.remove(old.instrument)
                self.assumed.pop(info.instId, None)
                self.terms(info.instId)

    # -- entry points ----------------------------------------------------------------------

    def on_message(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one websocket frame (a channel push, an event, or the text ``pong``)."""
        if data in ("pong", b"pong"):  # keep-alive reply to our text "ping"
            self.skipped["pong keep-alives"] += 1
            return []
        env = self._envelope.decode(data)
        if env.event is not None or env.arg is None:
            self.skipped[f"{env.event or 'unknown'} events"] += 1
            return []
        handler = self._handlers.get(env.arg.channel)
        if handler is None:
            self.skipped[f"frames of channel {env.arg.channel}"] += 1
            return []
        return handler(env, ts_recv)

    def on_http(self, url: str, body: str | bytes, ts_recv: int | None) -> list[Record]:
        """Learn contract values from ``/api/v5/public/instruments``; decode history bodies
        (:mod:`.history`: candles, funding, OI, long/short, liquidations); count the rest."""
        path = urlsplit(url).path.rstrip("/")
        if path.endswith("/api/v5/public/instruments"):
            self._learn(body)
            return []
        rows = history.decode(url, body, ts_recv, self._known, self._skip)
        if rows is None:
            self.skipped[f"REST responses of {path}"] += 1
        return rows or []

    def _skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    # -- channels --------------------------------------------------------------------------

    def _on_books(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        arg = env.arg
        inst_id = arg.instId if arg is not None else None
        if not inst_id:
            raise ValueError("field 'arg.instId': book push names no instrument")
        terms = self._known(inst_id, "book")
        if terms is None:
            return []
        snapshot = env.action == "snapshot" or (arg is not None and arg.channel in _SNAPSHOT_BOOKS)
        out: list[Record] = []
        base = terms.base_qty
        for book in self._books.decode(env.data):
            if not (book.bids or book.asks):
                continue
            out.append(
                BookDelta(
                    ts_event=book.ts * NS_PER_MS,
                    exchange=EXCHANGE,
                    market=terms.market,
                    symbol=inst_id,
                    ts_recv=ts_recv,
                    is_snapshot=snapshot,
                    # a level is [price, size, "0", orders]: contracts → base units per level
                    bids=[(lv[0], base(lv[1], lv[0])) for lv in book.bids],
                    asks=[(lv[0], base(lv[1], lv[0])) for lv in book.asks],
                    update_id=book.seqId,
                    prev_update_id=book.prevSeqId,
                )
            )
        return out

    def _on_trades(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for t in self._trades.decode(env.data):
            terms = self._known(t.instId, "trade")
            if terms is None:
                continue
            side = _TAKER.get(t.side)
            if side is None:
                raise ValueError(f"field 'side': trade side {t.side!r} is neither buy nor sell")
            out.append(
                Trade(
                    ts_event=t.ts * NS_PER_MS,
                    exchange=EXCHANGE,
                    market=terms.market,
                    symbol=t.instId,
                    ts_recv=ts_recv,
                    price=t.px,
                    qty=terms.base_qty(t.sz, t.px),
                    taker_side=side,
                    trade_id=t.tradeId,
                )
            )
        return out

    def _on_tickers(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for t in self._tickers.decode(env.data):
            terms = self._known(t.instId, "ticker")
            if terms is None:
                continue
            ts_event = t.ts * NS_PER_MS
            last = number(t.last, "last")
            if last is not None:
                out.append(
                    MarkPrice(
                        ts_event=ts_event,
                        exchange=EXCHANGE,
                        market=terms.market,
                        symbol=t.instId,
                        ts_recv=ts_recv,
                        last_price=last,
                    )
                )
            bid, ask = number(t.bidPx, "bidPx"), number(t.askPx, "askPx")
            bid_sz, ask_sz = number(t.bidSz, "bidSz"), number(t.askSz, "askSz")
            if bid and ask and bid_sz is not None and ask_sz is not None:
                out.append(
                    Quote(
                        ts_event=ts_event,
                        exchange=EXCHANGE,
                        market=terms.market,
                        symbol=t.instId,
                        ts_recv=ts_recv,
                        bid_price=bid,
                        bid_qty=terms.base_qty(bid_sz, bid),
                        ask_price=ask,
                        ask_qty=terms.base_qty(ask_sz, ask),
                    )
                )
        return out

    def _on_funding(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for f in self._funding.decode(env.data):
            rate = number(f.fundingRate, "fundingRate")
            if rate is None:
                self.skipped["funding-rate items without a rate"] += 1
                continue
            settle = number(f.fundingTime, "fundingTime")
            after = number(f.nextFundingTime, "nextFundingTime")
            interval = (after - settle) / 3_600_000 if settle and after else None
            ts_event = f.ts * NS_PER_MS if f.ts else ts_recv
            if ts_event is None:
                raise ValueError("field 'ts': funding-rate item carries no time")
            terms = self.terms(f.instId)
            out.append(
                Funding(
                    ts_event=ts_event,
                    exchange=EXCHANGE,
                    market=terms.market if terms is not None else Market.PERP,
                    symbol=f.instId,
                    ts_recv=ts_recv,
                    rate=rate,  # a fraction per interval
                    is_settled=False,  # current rate, settles at fundingTime (C12)
                    interval_hours=interval,
                    next_funding_ts=int(settle) * NS_PER_MS if settle else None,
                    predicted_rate=number(f.nextFundingRate, "nextFundingRate"),
                )
            )
        return out

    def _on_open_interest(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for x in self._oi.decode(env.data):
            terms = self.terms(x.instId)
            base = number(x.oiCcy, "oiCcy")
            if base is None and terms is not None and terms.kind == "linear" and terms.size:
                base = x.oi * terms.size  # inverse needs a price: left to oiCcy / oiUsd
            out.append(
                OpenInterest(
                    ts_event=x.ts * NS_PER_MS,
                    exchange=EXCHANGE,
                    market=terms.market if terms is not None else Market.PERP,
                    symbol=x.instId,
                    ts_recv=ts_recv,
                    oi_base=base,
                    oi_quote=number(x.oiUsd, "oiUsd"),
                )
            )
        return out

    def _on_mark(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for m in self._mark.decode(env.data):
            terms = self.terms(m.instId)
            out.append(
                MarkPrice(
                    ts_event=m.ts * NS_PER_MS,
                    exchange=EXCHANGE,
                    market=terms.market if terms is not None else Market.PERP,
                    symbol=m.instId,
                    ts_recv=ts_recv,
                    mark_price=m.markPx,
                )
            )
        return out

    def _on_index(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        return [
            MarkPrice(
                ts_event=x.ts * NS_PER_MS,
                exchange=EXCHANGE,
                market=Market.SPOT,  # an index id shares the spot pair's name (module docs)
                symbol=x.instId,
                ts_recv=ts_recv,
                index_price=x.idxPx,
            )
            for x in self._index.decode(env.data)
        ]

    def _on_liquidations(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for item in self._liq.decode(env.data):
            terms = self._known(item.instId, "liquidation")
            if terms is None:
                continue
            for d in item.details:
                liq = liquidation(item.instId, terms, d, ts_recv)
                if isinstance(liq, str):
                    self.skipped[liq] += 1
                    continue
                if not liquidated_side(d.side, d.posSide)[1]:
                    self.anomalies[
                        "liquidations whose side contradicts posSide (posSide used)"
                    ] += 1
                out.append(liq)
        return out


def make_decoder(url: str | None = None) -> OkxDecoder:
    """Build an OKX decoder (one serves every public channel and instrument type)."""
    del url  # public, business and regional hosts all send the same channel shapes
    return OkxDecoder()
