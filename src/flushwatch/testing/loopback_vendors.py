"""A loopback Coinalyze and CoinGlass v4 on 127.0.0.1: the documented shapes, real rows.

One :class:`VendorLoopback` (a real HTTP server on a free port of 127.0.0.1, its own thread)
answers both vendors' history endpoints the way their documentation says, and enforces what
they enforce, so the clients are tested against the rules rather than against themselves:

* the key header (Coinalyze ``api_key``, CoinGlass ``CG-API-KEY``): missing or wrong → 401;
* a rate limit per key over a sliding window (Coinalyze counts each symbol of a request as a
  call) → HTTP 429 with ``Retry-After`` in whole seconds; the times of every request are kept
  so a test can check nothing came back before the pause was over;
* paging limits: at most 20 symbols a Coinalyze call, at most ``max_rows`` intervals a
  Coinalyze window, ``limit`` ≤ 1,000 on CoinGlass (more → HTTP 400, as the vendors refuse);
* ``from``/``to`` (seconds, inclusive) and ``start_time``/``end_time`` (ms, inclusive);
* faults on demand: a malformed body for a path (once), given statuses (a 503 …) in turn.

The values served are REAL rows of the shared CoinGlass BTC hourly regime export
(``coinglass-btc-liq-oi-funding-2025-2026``, see :func:`regime_rows`), which its exporter
fetched from exactly these CoinGlass endpoints: aggregated liquidations of Binance, Bybit and
OKX, Binance BTCUSDT open interest (USD) and funding (percent), the OI-weighted funding. The
Coinalyze side serves the same rows in Coinalyze's shapes for ``BTCUSDT_PERP.A`` (Binance):
a test fixture of the wire format, not Coinalyze's own numbers. What the export does not hold
(aggregated OI over every venue, order-book depth, predicted funding, long/short ratios) is
served as no rows: never made up.
"""

from __future__ import annotations

import csv
import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

REGIME = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
COINGLASS_VENUES = "Binance,Bybit,OKX"  # the export's exchangeList (its meta.json)
CZ_SYMBOL = "BTCUSDT_PERP.A"
CZ_INTERVALS = {"1hour": 3600}
CG_INTERVALS = {"1h": 3600, "4h": 14_400}


@dataclass(frozen=True)
class Row:
    """One hour of the regime export, as text (served exactly as written in the CSV)."""

    ts_ms: int
    liq_long: str
    liq_short: str
    funding: tuple[str, str, str, str]  # Binance BTCUSDT, percent
    oi: tuple[str, str, str, str]  # Binance BTCUSDT, USD
    oi_weight: tuple[str, str, str, str]  # OI-weighted funding over venues, percent
    price: tuple[str, str, str, str]  # Binance spot BTCUSDT


def regime_rows(path: Path) -> list[Row]:
    """The export's rows, in order (values kept as the CSV's text)."""

    def ohlc(r: dict[str, str], m: str) -> tuple[str, str, str, str]:
        return (r[f"{m}_open"], r[f"{m}_high"], r[f"{m}_low"], r[f"{m}_close"])

    with path.open(encoding="utf-8") as fh:
        return [
            Row(
                ts_ms=int(r["timestamp"]),
                liq_long=r["liquidation_long_usd"],
                liq_short=r["liquidation_short_usd"],
                funding=ohlc(r, "funding"),
                oi=ohlc(r, "oi"),
                oi_weight=ohlc(r, "oi_weight"),
                price=ohlc(r, "price"),
            )
            for r in csv.DictReader(fh)
        ]


@dataclass
class Served:
    """What the server saw: every request (path, params, monotonic time, status)."""

    requests: list[tuple[str, dict[str, str], float, int]] = field(default_factory=list)

    def of(self, path: str, status: int | None = 200) -> list[dict[str, str]]:
        """Params of the requests to ``path`` (answered with ``status``; None: any)."""
        return [q for p, q, _, s in self.requests if p == path and status in (None, s)]


class VendorLoopback:
    """Both vendors on one loopback HTTP server (use :func:`serve`)."""

    def __init__(
        self,
        rows: list[Row],
        *,
        key: str,
        rate_calls: int = 1000,
        rate_window_s: float = 60.0,
        max_rows: int = 1000,
    ) -> None:
        self.rows = rows
        self.key = key
        self.rate_calls = rate_calls
        self.rate_window_s = rate_window_s
        self.max_rows = max_rows
        #: CoinGlass answers carry ``API-KEY-MAX-LIMIT: <this>`` when set (requests a minute).
        self.max_limit_header: int | None = None
        self.malformed: set[str] = set()
        #: Path → statuses answered to its next requests, in order (a 503, then a 500 ...).
        self.faults: dict[str, list[int]] = {}
        self.served = Served()
        self._calls: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # -- the rules ---------------------------------------------------------------------------
    def _rate(self, cost: int) -> float | None:
        """Charge ``cost`` calls; the seconds to wait when over the limit (nothing charged)."""
        now = time.monotonic()
        with self._lock:
            while self._calls and self._calls[0][0] <= now - self.rate_window_s:
                self._calls.popleft()
            used = sum(c for _, c in self._calls)
            if used + cost > self.rate_calls:
                return self._calls[0][0] + self.rate_window_s - now if self._calls else 1.0
            self._calls.append((now, cost))
        return None

    def answer(
        self, path: str, q: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str, dict[str, str]]:
        """Status, body and extra headers for one GET."""
        coinalyze = path.startswith("/v1/")
        header = "api_key" if coinalyze else "cg-api-key"
        if headers.get(header) != self.key:
            return 401, json.dumps({"message": "Unauthorized"}), {}
        cost = len(q.get("symbols", "x").split(",")) if coinalyze else 1
        wait = self._rate(cost)
        if wait is not None:
            return (
                429,
                json.dumps({"message": "Too many requests"}),
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if self.faults.get(path):
            return self.faults[path].pop(0), json.dumps({"message": "server error"}), {}
        if path in self.malformed:
            self.malformed.discard(path)
            return (
                200,
                '[{"symbol": "BTCUSDT_PERP.A", "history": [{"t": 17'
                if coinalyze
                else '{"code":"0","data":[{"time":',
                {},
            )
        try:
            body = self._coinalyze(path, q) if coinalyze else self._coinglass(path, q)
        except ValueError as exc:
            return 400, json.dumps({"message": str(exc)}), {}
        if not coinalyze and self.max_limit_header is not None:
            return 200, body, {"API-KEY-MAX-LIMIT": str(self.max_limit_header)}
        return 200, body, {}

    # -- Coinalyze ----------------------------------------------------------------------------
    def _coinalyze(self, path: str, q: dict[str, str]) -> str:
        if path == "/v1/future-markets":
            return json.dumps(
                [_market(CZ_SYMBOL, "A", "BTCUSDT"), _market("ETHUSDT_PERP.A", "A", "ETHUSDT")]
            )
        symbols = [s for s in q.get("symbols", "").split(",") if s]
        if not symbols or len(symbols) > 20:
            raise ValueError("symbols: 1 to 20 symbols")
        step = CZ_INTERVALS.get(q.get("interval", ""))
        if step is None:
            raise ValueError(f"interval {q.get('interval')!r} not served by the loopback")
        lo, hi = int(q["from"]), int(q["to"])
        if (hi - lo) // step + 1 > self.max_rows:
            raise ValueError(f"at most {self.max_rows} intervals a request")
        rows = [r for r in self.rows if lo <= r.ts_ms // 1000 <= hi]
        kind = path.removeprefix("/v1/")
        out = []
        for sym in symbols:
            mine = rows if sym == CZ_SYMBOL else []
            out.append(
                {"symbol": sym, "history": [_cz_row(kind, r) for r in mine if _cz_row(kind, r)]}
            )
        return json.dumps(out)

    # -- CoinGlass -----------------------------------------------------------------------------
    def _coinglass(self, path: str, q: dict[str, str]) -> str:
        limit = int(q.get("limit", "1000"))
        if not 0 < limit <= 1000:
            raise ValueError("limit: 1 to 1000")
        if q.get("interval") not in CG_INTERVALS:
            raise ValueError(f"interval {q.get('interval')!r} not served by the loopback")
        lo, hi = int(q["start_time"]), int(q["end_time"])
        rows = [r for r in self.rows if lo <= r.ts_ms <= hi][:limit]
        data = [d for r in rows if (d := _cg_row(path, q, r)) is not None]
        return json.dumps({"code": "0", "msg": "success", "data": data})


def _market(symbol: str, code: str, pair: str) -> dict[str, object]:
    """A ``/future-markets`` entry in Coinalyze's documented shape."""
    return {
        "symbol": symbol,
        "exchange": code,
        "symbol_on_exchange": pair,
        "base_asset": pair.removesuffix("USDT"),
        "quote_asset": "USDT",
        "is_perpetual": True,
        "margined": "STABLE",
        "expire_at": None,
        "oi_lq_vol_denominated_in": "BASE_ASSET",
        "has_long_short_ratio_data": True,
        "has_ohlcv_data": True,
        "has_buy_sell_data": True,
    }


def _num(text: str) -> float:
    return float(text)


def _cz_row(kind: str, r: Row) -> dict[str, float | int] | None:
    t = r.ts_ms // 1000
    ohlc = {
        "open-interest-history": r.oi,
        "funding-rate-history": r.funding,
        "ohlcv-history": r.price,
    }.get(kind)
    if ohlc is not None:
        return {"t": t, **dict(zip("ohlc", map(_num, ohlc), strict=True))}
    if kind == "liquidation-history":
        return {"t": t, "l": _num(r.liq_long), "s": _num(r.liq_short)}
    return None  # predicted funding, long/short ratios: not in the export


def _cg_row(path: str, q: dict[str, str], r: Row) -> dict[str, object] | None:
    ohlc: tuple[str, str, str, str] | None = None
    if path == "/api/futures/liquidation/aggregated-history":
        if q.get("exchange_list") != COINGLASS_VENUES or q.get("symbol") != "BTC":
            return None
        return {
            "time": r.ts_ms,
            "aggregated_long_liquidation_usd": _num(r.liq_long),
            "aggregated_short_liquidation_usd": _num(r.liq_short),
        }
    pair = q.get("exchange") == "Binance" and q.get("symbol") == "BTCUSDT"
    if path == "/api/futures/open-interest/history" and pair:
        ohlc = r.oi
    elif path == "/api/futures/funding-rate/history" and pair:
        ohlc = r.funding
    elif path == "/api/futures/funding-rate/oi-weight-history" and q.get("symbol") == "BTC":
        ohlc = r.oi_weight
    if ohlc is None:
        return None  # aggregated OI over every venue, depth: not in the export
    # CoinGlass prints OHLC values as strings (its docs' examples): served as the CSV wrote them.
    return {"time": r.ts_ms, "open": ohlc[0], "high": ohlc[1], "low": ohlc[2], "close": ohlc[3]}


def _handler(loop: VendorLoopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            q = dict(parse_qsl(parts.query))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = loop.answer(parts.path, q, headers)
            loop.served.requests.append((parts.path, q, time.monotonic(), status))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read :attr:`VendorLoopback.served` instead."""

    return Handler


@contextmanager
def serve(loop: VendorLoopback) -> Iterator[VendorLoopback]:
    """Run ``loop`` on 127.0.0.1 (a free port) in a thread for the ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(loop))
    server.daemon_threads = True
    loop.server = server
    thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
