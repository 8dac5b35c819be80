"""Hyperliquid public websocket messages exactly as the venue sends them.

Every frame is ``{"channel": ..., "data": ...}``; ``data`` is left as :class:`msgspec.Raw`
until the channel picks its struct. Prices and sizes are strings decoded to ``float`` by a
non-strict decoder (a non-numeric string raises :class:`msgspec.ValidationError` naming the
field). Sizes are "in units of coin, i.e. base currency" and the trade side "B = Bid = Buy,
A = Ask = Short. Side is aggressing side for trades"
(https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/notation).

Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions
(``WsBook``, ``WsLevel``, ``WsTrade``).
"""

from __future__ import annotations

import msgspec


class Envelope(msgspec.Struct, frozen=True):
    """Any frame: a channel push, ``subscriptionResponse``, ``pong`` or ``error``."""

    channel: str  # "l2Book", "trades", "subscriptionResponse", "pong", "error" ...
    data: msgspec.Raw = msgspec.Raw()  # the payload, decoded once the channel is known


class Level(msgspec.Struct, frozen=True):
    """``WsLevel``: one aggregated price level."""

    px: float  # price
    sz: float  # total size at the level, base coins
    n: int  # number of orders at the level


class Book(msgspec.Struct, frozen=True):
    """``WsBook``: a full snapshot of the aggregated book (every push)."""

    coin: str  # perp name ("BTC"), spot pair ("PURR/USDC", "@107") or builder perp ("dex:X")
    levels: tuple[list[Level], list[Level]]  # [bids best first, asks best first]
    time: int  # book time, ms


class Trade(msgspec.Struct, frozen=True):
    """``WsTrade``: one trade."""

    coin: str  # market name, as in Book.coin
    side: str  # AGGRESSOR side: "B" (bid, buy) or "A" (ask, sell)
    px: float  # price
    sz: float  # size, base coins
    time: int  # trade time, ms
    tid: int  # trade id (50-bit hash)
    hash: str = ""  # transaction hash (zeros for TWAP fills)
    users: list[str] = []  # [buyer, seller] addresses
