"""A loopback Binance COIN-M REST server on 127.0.0.1 answering the history endpoints.

Real rows where the shared data has COIN-M (read from ``../shared/data``, never copied):

* ``/dapi/v1/exchangeInfo``: the REAL body cryptofeed recorded from ``dapi.binance.com`` on
  2021-07-21 (``cryptofeed-ws-recordings/BINANCE_DELIVERY.jsonl.zst``), served verbatim: its
  ``contractSize`` is 100 for ``BTCUSD_PERP`` and 10 for the other pairs;
* ``/dapi/v1/klines``: the REAL Vision rows of ``cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv``
  (the Vision layout IS the REST row: volume and taker-buy volume in contracts, the "quote"
  columns in BTC), numbers as the file writes them;
* ``/futures/data/openInterestHist``: the REAL ``cm-BTCUSD_PERP-metrics-2023-06-25-excerpt``
  rows (``sum_open_interest`` contracts → ``sumOpenInterest``, ``sum_open_interest_value`` BTC
  → ``sumOpenInterestValue``) with ``pair`` BTCUSD, ``contractType`` PERPETUAL.

SIMULATED (labelled so, deterministic, for exact decoding and paging only, never market facts;
the shared data has no COIN-M funding, mark/index/premium klines or account ratios, and the
metrics excerpt's ratio columns are empty): funding every 8 h, mark/index/premium klines at the
real klines' hours, the three long/short ratios at the metrics' five-minute stamps.

Behaviour as documented: klines return the most recent ``limit`` rows between ``startTime`` and
``endTime``; limits above the maxima are refused (HTTP 400, code -1130); an unknown symbol or
pair is HTTP 400 code -1121; the first N requests of a path can be answered 429 with
``Retry-After``. Every request target is logged in ``http_log``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import zstandard
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from flushwatch.testing.loopback_bound import RestOnly

VISION = "binance-vision-format-examples"
KLINES_FILE = f"{VISION}/cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv"
METRICS_FILE = f"{VISION}/cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv"
INFO_FILE = "cryptofeed-ws-recordings/BINANCE_DELIVERY.jsonl.zst"
_HOUR_MS = 3_600_000
_MAX = {"klines": 1500, "fundingRate": 1000, "stats": 500}
Row = list[Any]


class CoinmFaults(msgspec.Struct, frozen=True, kw_only=True):
    """What goes wrong on purpose: path → how many of its first requests get HTTP 429."""

    rate_limited: dict[str, int] = msgspec.field(default_factory=dict)


def exchange_info_body(shared_data: Path) -> str:
    """The real COIN-M exchangeInfo body of the cryptofeed recording, verbatim."""
    with (shared_data / INFO_FILE).open("rb") as fh:
        text = zstandard.ZstdDecompressor().stream_reader(fh).read().decode()
    for line in text.splitlines():
        obj = json.loads(line)
        if obj.get("t") == "http" and obj["url"].endswith("/dapi/v1/exchangeInfo"):
            return str(obj["data"])
    raise FileNotFoundError(f"{INFO_FILE}: no exchangeInfo body")


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


class CoinmRows:
    """Wire rows, oldest first: real where the shared data has them (module docstring)."""

    def __init__(self, shared_data: Path) -> None:
        self.info = exchange_info_body(shared_data)
        symbols = json.loads(self.info)["symbols"]
        self.symbols = {s["symbol"] for s in symbols}
        self.pairs = {s["pair"] for s in symbols}
        self.klines: dict[str, list[Row]] = {"BTCUSD_PERP": []}
        for r in _csv(shared_data / KLINES_FILE):
            self.klines["BTCUSD_PERP"].append(
                [
                    int(r["open_time"]),
                    r["open"],
                    r["high"],
                    r["low"],
                    r["close"],
                    r["volume"],
                    int(r["close_time"]),
                    r["quote_volume"],
                    int(r["count"]),
                    r["taker_buy_volume"],
                    r["taker_buy_quote_volume"],
                    r["ignore"],
                ]
            )
        self.oi: dict[str, list[dict[str, Any]]] = {"BTCUSD": []}
        for r in _csv(shared_data / METRICS_FILE):
            stamp = datetime.strptime(r["create_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            self.oi["BTCUSD"].append(
                {
                    "pair": "BTCUSD",
                    "contractType": "PERPETUAL",
                    "sumOpenInterest": r["sum_open_interest"],
                    "sumOpenInterestValue": r["sum_open_interest_value"],
                    "timestamp": int(stamp.timestamp() * 1000),
                }
            )
        self._simulate()

    def _simulate(self) -> None:
        """SIMULATED series (module docstring): deterministic from the real rows' times."""
        real = self.klines["BTCUSD_PERP"]
        first = real[0][0]
        self.funding = {
            "BTCUSD_PERP": [
                {
                    "symbol": "BTCUSD_PERP",
                    "fundingTime": first - k * 8 * _HOUR_MS,
                    "fundingRate": f"{0.0001 * (1 + k % 3):.8f}",
                    "markPrice": "",
                }
                for k in range(12, -1, -1)
            ]
        }
        self.priced: dict[str, list[Row]] = {}
        for name, offset in (("mark", 0.5), ("index", -0.5), ("premium", None)):
            rows = []
            for i, k in enumerate(real):
                if offset is None:
                    o = h = low = c = f"{0.0001 * (i + 1):.8f}"
                else:
                    o, h, low, c = (f"{float(x) + offset:.1f}" for x in k[1:5])
                rows.append([k[0], o, h, low, c, "0", k[6], "0", 60, "0", "0", "0"])
            self.priced[name] = rows
        self.ratios = {
            name: [
                {
                    "pair": "BTCUSD",
                    "longShortRatio": f"{base + i / 100:.4f}",
                    "longAccount": "0.5",
                    "shortAccount": "0.5",
                    "timestamp": r["timestamp"],
                }
                for i, r in enumerate(self.oi["BTCUSD"])
            ]
            for name, base in (("global", 1.5), ("accounts", 1.2), ("positions", 0.9))
        }


class LoopbackCoinm(RestOnly):
    """COIN-M REST history on an ephemeral 127.0.0.1 port (an async context manager)."""

    def __init__(self, rows: CoinmRows, faults: CoinmFaults | None = None) -> None:
        self.rows = rows
        self.faults = faults or CoinmFaults()
        #: Every HTTP request target (path and query), in arrival order.
        self.http_log: list[str] = []
        self._asked: dict[str, int] = {}

    def _http(self, ws: ServerConnection, request: Request) -> Response:
        self.http_log.append(request.path)
        parts = urlsplit(request.path)
        q = dict(parse_qsl(parts.query))
        n = self._asked[parts.path] = self._asked.get(parts.path, 0) + 1
        if n <= self.faults.rate_limited.get(parts.path, 0):
            resp = _json(ws, 429, '{"code":-1003,"msg":"Too many requests."}')
            resp.headers["Retry-After"] = "0"
            return resp
        status, body = self._answer(parts.path, q)
        return _json(ws, status, body)

    def _answer(self, path: str, q: dict[str, str]) -> tuple[int, str]:
        rows = self.rows
        if path == "/dapi/v1/exchangeInfo":
            return 200, rows.info
        name = path.rsplit("/", 1)[-1]
        top = _MAX.get(name, _MAX["stats"] if path.startswith("/futures/data/") else 1500)
        limit = int(q.get("limit", 500))
        if not 0 < limit <= top:
            return 400, '{"code":-1130,"msg":"Data sent for parameter \'limit\' is not valid."}'
        lo, hi = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        table: list[Any] | None
        tables: dict[str, list[Any]]
        if name in ("klines", "markPriceKlines", "premiumIndexKlines", "fundingRate"):
            if q.get("symbol") not in rows.symbols:
                return 400, '{"code":-1121,"msg":"Invalid symbol."}'
            sym = q["symbol"]
            tables = {
                "klines": rows.klines.get(sym, []),
                "markPriceKlines": rows.priced["mark"] if sym in rows.klines else [],
                "premiumIndexKlines": rows.priced["premium"] if sym in rows.klines else [],
                "fundingRate": rows.funding.get(sym, []),
            }
            table = tables[name]
        else:
            if q.get("pair") not in rows.pairs:
                return 400, '{"code":-1121,"msg":"Invalid pair."}'
            pair = q["pair"]
            known = pair in rows.oi
            tables = {
                "indexPriceKlines": rows.priced["index"] if pair == "BTCUSD" else [],
                "openInterestHist": rows.oi.get(pair, []),
                "globalLongShortAccountRatio": rows.ratios["global"] if known else [],
                "topLongShortAccountRatio": rows.ratios["accounts"] if known else [],
                "topLongShortPositionRatio": rows.ratios["positions"] if known else [],
            }
            table = tables.get(name)
            if table is None:
                return 404, '{"code":-1,"msg":"not found"}'
            if name == "openInterestHist" and q.get("contractType") != "PERPETUAL":
                return 400, '{"code":-1,"msg":"PERPETUAL rows only here"}'
        picked = [r for r in table or [] if lo <= _time(r) <= hi]
        return 200, json.dumps(picked[-limit:], separators=(",", ":"))  # the latest ``limit``


def _time(row: Any) -> int:
    if isinstance(row, dict):
        return int(row.get("timestamp") or row["fundingTime"])
    return int(row[0])


def _json(ws: ServerConnection, status: int, body: str) -> Response:
    resp = ws.respond(status, body)
    headers = Headers((k, v) for k, v in resp.headers.raw_items() if k.lower() != "content-type")
    headers["Content-Type"] = "application/json"
    resp.headers = headers
    return resp
