"""Binance kline intervals in seconds, shared by the websocket decoder and the Vision importer.

``1s`` exists for spot only; ``1M`` / ``1mo`` is a calendar month with no fixed length and is
deliberately absent (callers refuse it with a message).
"""

from __future__ import annotations

INTERVALS: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
}
