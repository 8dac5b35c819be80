"""Contract terms of OKX instruments: from ``/api/v5/public/instruments`` or documented defaults.

OKX derivatives trade in contracts. ``ctVal`` × ``ctMult`` is the contract value, in base coins
for ``ctType == "linear"`` (USDT/USDC-margined) and in USD for ``"inverse"`` (coin-margined)
(https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments). Base quantities are
``contracts × value`` (linear) and ``contracts × value / price`` (inverse).

When no instruments body was seen, :data:`DEFAULT_SIZES` holds the only sizes assumed; the
decoder lists every symbol decoded with one (``OkxDecoder.assumed``) so the importer can say so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

from flushwatch.domain.enums import Margin, Market
from flushwatch.domain.records import Instrument
from flushwatch.venues.okx.wire import InstrumentInfo

EXCHANGE = "okx"
Kind = Literal["spot", "linear", "inverse"]

_HELP_SWAP = "https://www.okx.com/help/7053456733325"
_HELP_FUTURES = "https://www.okx.com/help/7053702553613"
_RECORDED = "OKX /api/v5/public/instruments bodies of 2022-05-13 (cryptofeed OKX.jsonl.zst)"

#: (margin, base) → (contract value, source). ``"*"`` is any other base of that margin.
DEFAULT_SIZES: dict[tuple[Kind, str], tuple[float, str]] = {
    # "Contract Size 100USD" (BTCUSD perpetual and futures specifications).
    ("inverse", "BTC"): (100.0, f"{_HELP_SWAP}, {_HELP_FUTURES}"),
    # Every other coin-margined swap and future had ctVal 10 USD (39 swaps, 48 futures).
    ("inverse", "*"): (10.0, _RECORDED),
    # "Contract Size 0.01BTC" (BTCUSDT perpetual and futures specifications).
    ("linear", "BTC"): (0.01, f"{_HELP_SWAP}, {_HELP_FUTURES}"),
    # ETH-USDT-SWAP ctVal 0.1 ETH. Other USDT/USDC contracts vary per coin: no default.
    ("linear", "ETH"): (0.1, _RECORDED),
}


class Terms(msgspec.Struct, frozen=True):
    """What the hot path needs per instrument: market, size convention and contract value."""

    market: Market
    kind: Kind
    #: Base coins (linear) or USD (inverse) per contract; 1.0 for spot; None when unknown.
    size: float | None
    instrument: Instrument | None
    #: Where an assumed size came from (None when the size came from an instruments body).
    assumed: str | None = None

    def base_qty(self, sz: float, price: float) -> float:
        """Convert a size in venue units (contracts or base coins) to base units."""
        if self.kind == "spot":
            return sz
        if self.size is None:
            raise ValueError("the contract value of this instrument is unknown")
        return sz * self.size if self.kind == "linear" else sz * self.size / price


def _instrument(
    inst_id: str, kind: Kind, base: str, quote: str, expiry: str | None, size: float
) -> Instrument:
    if kind == "spot":
        return Instrument(
            exchange=EXCHANGE,
            market=Market.SPOT,
            symbol=inst_id,
            unified=f"{base}/{quote}",
            base=base,
            quote=quote,
            settle=None,
            margin=Margin.NONE,
        )
    settle = base if kind == "inverse" else quote
    return Instrument(
        exchange=EXCHANGE,
        market=Market.FUTURE if expiry else Market.PERP,
        symbol=inst_id,
        unified=f"{base}/{quote}:{settle}" + (f"-{expiry}" if expiry else ""),
        base=base,
        quote=quote,
        settle=settle,
        margin=Margin.INVERSE if kind == "inverse" else Margin.LINEAR,
        contract_size=size,
    )


def infer_terms(inst_id: str) -> Terms | None:
    """Terms from the instrument id alone; None for ids we do not decode (options, spreads)."""
    parts = inst_id.split("-")
    if len(parts) == 2:  # "BTC-USDT": spot (and margin) pairs
        base, quote = parts
        inst = _instrument(inst_id, "spot", base, quote, None, 1.0)
        return Terms(market=Market.SPOT, kind="spot", size=1.0, instrument=inst)
    if len(parts) != 3:  # options "BTC-USD-220514-22000-C" and anything else
        return None
    base, quote, tail = parts
    if tail == "SWAP":
        expiry = None
    elif tail.isdigit() and len(tail) == 6:  # "BTC-USD-220527": YYMMDD delivery
        expiry = tail
    else:
        return None
    kind: Kind = "inverse" if quote == "USD" else "linear"
    market = Market.FUTURE if expiry else Market.PERP
    found = DEFAULT_SIZES.get((kind, base)) or DEFAULT_SIZES.get((kind, "*"))
    if found is None:
        return Terms(market=market, kind=kind, size=None, instrument=None)
    size, source = found
    inst = _instrument(inst_id, kind, base, quote, expiry, size)
    return Terms(market=market, kind=kind, size=size, instrument=inst, assumed=source)


def learned_terms(info: InstrumentInfo) -> Terms | None:
    """Terms from one instruments entry; None for types we do not decode (options)."""
    if info.instType in ("SPOT", "MARGIN"):
        inst = _instrument(info.instId, "spot", info.baseCcy, info.quoteCcy, None, 1.0)
        return Terms(market=Market.SPOT, kind="spot", size=1.0, instrument=inst)
    if info.instType not in ("SWAP", "FUTURES") or info.ctType not in ("linear", "inverse"):
        return None
    kind: Kind = "linear" if info.ctType == "linear" else "inverse"
    family = (info.instFamily or info.uly).split("-")
    if len(family) != 2 or not info.ctVal:
        return None
    base, quote = family
    size = float(info.ctVal) * (float(info.ctMult) if info.ctMult else 1.0)
    expiry = None
    if info.instType == "FUTURES" and info.expTime:
        when = datetime.fromtimestamp(int(info.expTime) / 1000, tz=UTC)
        expiry = when.strftime("%y%m%d")
    inst = _instrument(info.instId, kind, base, quote, expiry, size)
    market = Market.FUTURE if info.instType == "FUTURES" else Market.PERP
    inst = msgspec.structs.replace(inst, market=market)
    return Terms(market=market, kind=kind, size=size, instrument=inst)
