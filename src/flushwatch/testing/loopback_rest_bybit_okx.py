"""A loopback Bybit v5 or OKX v5 REST server on 127.0.0.1 answering the history endpoints.

Rows come from the REAL multivenue Parquet files in ``../shared/data`` (read with polars, never
copied), turned back into each venue's documented wire shape:

* candles (``candles.parquet``, venue ``bybit``/``okx``): Bybit ``[start, o, h, l, c, volume,
  turnover]``; OKX ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`` where the file's
  ``v`` IS OKX's ``vol`` (contracts, PROVENANCE.md) and ``volCcy = vol × ctVal``. The files
  have no quote volume, so ``turnover``/``volCcyQuote`` are served empty (``""``) rather than
  invented;
* funding (``funding_rates.parquet``): Bybit ``fundingRate``; OKX ``fundingRate`` and
  ``realizedRate`` both carry the file's rate (the file does not say which field it kept);
* OKX liquidation prints (``liquidations__commit_fadd49d.parquet``): the fetcher stored
  ``size_usd = sz × bkPx`` (wrongly, sz being contracts), so ``sz = size_usd / price``
  (recovered to 2 decimals exactly) and ``bkPx = price``; ``posSide`` "net".

Open interest and long/short account ratios have NO real rows for these venues in the shared
data: they are SIMULATED (labelled so here), deterministic from the hour index and the real
close, so tests can assert exact decoding and paging, never market facts.

Instruments: OKX ``ctVal`` per PROVENANCE.md's table (BTC 0.01, ETH 0.1, SOL 1, DOGE 1000, HYPE
0.1; ``*-USDT-SWAP``), Bybit linear perpetuals with an 8 h ``fundingInterval``.

Paging is the venue's: OKX ``after``/``before`` ts cursors (and rubik ``begin``/``end``), newest
first; Bybit ``start``/``end`` (kline) or ``startTime``/``endTime`` (newest ``limit`` rows) and an
opaque ``nextPageCursor`` (open interest, account ratio). Limits above the documented maxima
are refused as the venue refuses them. Faults: the first N requests of a path are rate limited
(Bybit ``retCode`` 10006 in an HTTP 200; OKX HTTP 429 ``code`` 50011), or a path's first body
is cut short (malformed JSON). Every request target is logged in ``http_log``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import msgspec
import numpy as np
import polars as pl
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from flushwatch.testing.loopback_bound import RestOnly

Venue = Literal["bybit", "okx"]
MULTIVENUE = "multivenue-hourly-candles-funding-oi-liqprints-2025-2026"
#: OKX contract values (PROVENANCE.md of the multivenue folder).
CT_VAL = {"BTC": 0.01, "ETH": 0.1, "SOL": 1.0, "DOGE": 1000.0, "HYPE": 0.1}
_HOUR_MS = 3_600_000
Row = list[Any]


class RestFaults(msgspec.Struct, frozen=True, kw_only=True):
    """What goes wrong on purpose."""

    #: Path → how many of its first requests are answered "rate limited".
    rate_limited: dict[str, int] = msgspec.field(default_factory=dict)
    #: Paths whose first successful body is cut short (not JSON).
    malformed: tuple[str, ...] = ()


def _ms(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("timestamp").dt.epoch("ms").alias("ms")).sort("ms")


def _num(x: float) -> str:
    """The shortest decimal that round-trips, never in e-notation (as the venues write)."""
    return str(np.format_float_positional(float(x), trim="-"))


class VenueRows:
    """Wire rows per instrument, oldest first, built from the shared files (module docstring)."""

    def __init__(self, shared_data: Path, venue: Venue) -> None:
        folder = shared_data / MULTIVENUE
        self.venue = venue
        candles = _ms(pl.read_parquet(folder / "candles.parquet").filter(pl.col("venue") == venue))
        funding = pl.read_parquet(folder / "funding_rates.parquet")
        funding = _ms(funding.filter(pl.col("venue") == venue))
        self.coins = sorted(CT_VAL)
        self.candles: dict[str, list[Row]] = {}
        self.funding: dict[str, list[Row]] = {}
        self.oi: dict[str, list[Row]] = {}
        self.ratio: dict[str, list[Row]] = {}
        for coin in self.coins:
            sym = self.symbol(coin)
            mine = candles.filter(pl.col("coin") == coin)
            self.candles[sym] = [self._candle(coin, r) for r in mine.iter_rows(named=True)]
            rates = funding.filter(pl.col("coin") == coin).iter_rows(named=True)
            self.funding[sym] = [[r["ms"], r["funding_rate"]] for r in rates]
            self.oi[sym], self.ratio[sym] = self._simulated(coin, mine)
        self.liquidations: dict[str, list[dict[str, Any]]] = {}
        if venue == "okx":
            liq = pl.read_parquet(folder / "liquidations__commit_fadd49d.parquet")
            liq = _ms(liq.filter(pl.col("venue") == "okx"))
            for coin in self.coins:
                rows = liq.filter(pl.col("coin") == coin).iter_rows(named=True)
                self.liquidations[self.symbol(coin)] = [_detail(r) for r in rows]

    def symbol(self, coin: str) -> str:
        """The venue's symbol of a coin's USDT perpetual."""
        return f"{coin}-USDT-SWAP" if self.venue == "okx" else f"{coin}USDT"

    def _candle(self, coin: str, r: dict[str, Any]) -> Row:
        ohlc = [_num(r[k]) for k in ("o", "h", "l", "c")]
        if self.venue == "bybit":
            return [str(r["ms"]), *ohlc, _num(r["v"]), ""]
        coins = r["v"] * CT_VAL[coin]
        return [str(r["ms"]), *ohlc, _num(r["v"]), _num(coins), "", "1"]

    def _simulated(self, coin: str, candles: pl.DataFrame) -> tuple[list[Row], list[Row]]:
        """SIMULATED hourly open interest and account ratios (no real rows exist)."""
        oi: list[Row] = []
        ratio: list[Row] = []
        for i, r in enumerate(candles.iter_rows(named=True)):
            contracts = 1_000_000 + 10 * i
            coins = contracts * CT_VAL[coin]
            oi.append([r["ms"], contracts, coins, round(coins * r["c"], 2)])
            long_share = 0.4 + (i % 40) / 200
            ratio.append([r["ms"], round(long_share, 4), round(1 - long_share, 4)])
        return oi, ratio


def _detail(r: dict[str, Any]) -> dict[str, Any]:
    sz = round(r["size_usd"] / r["price"], 2)  # contracts: the fetcher's size_usd was sz × bkPx
    return {
        "bkLoss": "0",
        "bkPx": _num(r["price"]),
        "ccy": "",
        "posSide": "net",
        "side": r["side"],
        "sz": _num(sz),
        "ts": str(r["ms"]),
    }


class LoopbackRest(RestOnly):
    """One venue's REST history on an ephemeral 127.0.0.1 port (an async context manager)."""

    def __init__(self, rows: VenueRows, faults: RestFaults | None = None) -> None:
        self.rows = rows
        self.venue = rows.venue
        self.faults = faults or RestFaults()
        #: Every HTTP request target (path and query), in arrival order.
        self.http_log: list[str] = []
        #: Every body answered with HTTP 200 and a success code: (target, body).
        self.served: list[tuple[str, str]] = []
        self._asked: dict[str, int] = {}
        self._cut: set[str] = set()

    # -- HTTP ----------------------------------------------------------------------------------

    def _http(self, ws: ServerConnection, request: Request) -> Response:
        self.http_log.append(request.path)
        parts = urlsplit(request.path)
        path = parts.path
        q = dict(parse_qsl(parts.query))
        n = self._asked[path] = self._asked.get(path, 0) + 1
        if n <= self.faults.rate_limited.get(path, 0):
            return self._limited(ws)
        status, body = self._answer(path, q)
        if status == 200 and path in self.faults.malformed and path not in self._cut:
            self._cut.add(path)
            return _json(ws, 200, body[: len(body) // 2])
        if status == 200 and ('"code":"0"' in body or '"retCode":0,' in body):
            self.served.append((request.path, body))
        return _json(ws, status, body)

    def _limited(self, ws: ServerConnection) -> Response:
        if self.venue == "okx":
            return _json(ws, 429, '{"code":"50011","msg":"Too Many Requests","data":[]}')
        resp = _json(ws, 200, _bybit_error(10006, "Too many visits!"))
        resp.headers["X-Bapi-Limit-Status"] = "0"
        return resp

    def _answer(self, path: str, q: dict[str, str]) -> tuple[int, str]:
        handler = (_OKX if self.venue == "okx" else _BYBIT).get(path)
        if handler is None:
            return 404, '{"msg":"not found"}'
        status, body = handler(self, q)
        return int(status), str(body)

    # -- OKX -----------------------------------------------------------------------------------

    def _okx_symbol(self, q: dict[str, str]) -> str | None:
        sym = q.get("instId", "")
        return sym if sym in self.rows.candles else None

    def _okx_instruments(self, q: dict[str, str]) -> tuple[int, str]:
        sym = self._okx_symbol(q)
        if sym is None or q.get("instType") != "SWAP":
            return 200, _okx_error("51001", "Instrument ID does not exist")
        coin = sym.split("-")[0]
        info = {
            "instType": "SWAP",
            "instId": sym,
            "uly": f"{coin}-USDT",
            "instFamily": f"{coin}-USDT",
            "settleCcy": "USDT",
            "ctVal": _num(CT_VAL[coin]),
            "ctMult": "1",
            "ctValCcy": coin,
            "ctType": "linear",
            "state": "live",
        }
        return 200, _okx_ok([info])

    def _okx_rows(
        self, q: dict[str, str], table: dict[str, list[Row]], top: int, *, rubik: bool = False
    ) -> tuple[int, list[Row]] | tuple[int, str]:
        sym = self._okx_symbol(q)
        if sym is None:
            return 200, _okx_error("51001", "Instrument ID does not exist")
        limit = int(q.get("limit", top))
        if not 0 < limit <= top:
            return 200, _okx_error("51000", "Parameter limit error")
        if rubik:  # begin/end, inclusive
            lo, hi = int(q.get("begin", 0)), int(q.get("end", 2**62))
            rows = [r for r in table[sym] if lo <= r[0] <= hi]
        else:  # after: older than; before: newer than
            lo, hi = int(q.get("before", -1)), int(q.get("after", 2**62))
            rows = [r for r in table[sym] if lo < int(r[0]) < hi]
        return 200, rows[::-1][:limit]  # newest first, the newest ``limit``

    def _okx_candles(self, q: dict[str, str]) -> tuple[int, str]:
        if q.get("bar") != "1H":
            return 200, _okx_error("51000", "Parameter bar error (hourly rows only here)")
        got = self._okx_rows(q, self.rows.candles, 100)
        return got if isinstance(got[1], str) else (200, _okx_ok(got[1]))

    def _okx_funding(self, q: dict[str, str]) -> tuple[int, str]:
        got = self._okx_rows(q, self.rows.funding, 400)
        if isinstance(got[1], str):
            return got[0], got[1]
        sym = q["instId"]
        data = [
            {
                "formulaType": "withRate",
                "fundingRate": _num(rate),
                "fundingTime": str(ms),
                "instId": sym,
                "instType": "SWAP",
                "method": "current_period",
                "realizedRate": _num(rate),
            }
            for ms, rate in got[1]
        ]
        return 200, _okx_ok(data)

    def _okx_rubik(self, q: dict[str, str], table: dict[str, list[Row]]) -> tuple[int, str]:
        if q.get("period") != "1H":
            return 200, _okx_error("51000", "Parameter period error (1H rows only here)")
        got = self._okx_rows(q, table, 100, rubik=True)
        if isinstance(got[1], str):
            return got[0], got[1]
        if table is self.rows.oi:
            data = [[str(t), _num(c), _num(b), _num(u)] for t, c, b, u in got[1]]
        else:
            data = [[str(t), _num(round(long / short, 4))] for t, long, short in got[1]]
        return 200, _okx_ok(data)

    def _okx_liquidations(self, q: dict[str, str]) -> tuple[int, str]:
        family = q.get("instFamily") or q.get("uly")
        if not family or q.get("instType") != "SWAP":
            return 200, _okx_error("50015", "Either parameter uly or instFamily is required")
        if q.get("state") != "filled":
            return 200, _okx_error("51000", "Parameter state error (filled only here)")
        limit = int(q.get("limit", 100))
        if not 0 < limit <= 100:
            return 200, _okx_error("51000", "Parameter limit error")
        sym = f"{family}-SWAP"
        lo, hi = int(q.get("before", -1)), int(q.get("after", 2**62))
        details = [d for d in self.rows.liquidations.get(sym, []) if lo < int(d["ts"]) < hi]
        details = details[::-1][:limit]
        item = {"details": details, "instFamily": family, "instId": sym, "instType": "SWAP"}
        item.update(totalLoss="0", uly=family)
        return 200, _okx_ok([item] if details else [])

    # -- Bybit ---------------------------------------------------------------------------------

    def _bybit_symbol(self, q: dict[str, str]) -> str | None:
        sym = q.get("symbol", "")
        ok = sym in self.rows.candles and q.get("category") == "linear"
        return sym if ok else None

    def _bybit_instruments(self, q: dict[str, str]) -> tuple[int, str]:
        sym = self._bybit_symbol(q)
        if sym is None:
            return 200, _bybit_ok({"category": "linear", "list": [], "nextPageCursor": ""})
        info = {
            "symbol": sym,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": sym.removesuffix("USDT"),
            "quoteCoin": "USDT",
            "settleCoin": "USDT",
            "deliveryTime": "0",
            "fundingInterval": 480,
        }
        return 200, _bybit_ok({"category": "linear", "list": [info], "nextPageCursor": ""})

    def _bybit_window(
        self, q: dict[str, str], table: dict[str, list[Row]], top: int, keys: tuple[str, str]
    ) -> tuple[int, str] | tuple[str, list[Row]]:
        sym = self._bybit_symbol(q)
        if sym is None:
            return 200, _bybit_error(10001, "params error: symbol invalid")
        limit = int(q.get("limit", min(top, 200)))
        if not 0 < limit <= top:
            return 200, _bybit_error(10001, "params error: limit")
        lo, hi = int(q.get(keys[0], 0)), int(q.get(keys[1], 2**62))
        rows = [r for r in table[sym] if lo <= int(r[0]) <= hi]
        return sym, rows[::-1][:limit]

    def _bybit_kline(self, q: dict[str, str]) -> tuple[int, str]:
        if q.get("interval") != "60":
            return 200, _bybit_error(10001, "params error: interval (hourly rows only here)")
        got = self._bybit_window(q, self.rows.candles, 1000, ("start", "end"))
        if isinstance(got[0], int):
            return got
        sym, rows = got
        return 200, _bybit_ok({"category": "linear", "symbol": sym, "list": rows})

    def _bybit_funding(self, q: dict[str, str]) -> tuple[int, str]:
        got = self._bybit_window(q, self.rows.funding, 200, ("startTime", "endTime"))
        if isinstance(got[0], int):
            return got
        sym, rows = got
        data = [
            {"symbol": sym, "fundingRate": _num(rate), "fundingRateTimestamp": str(ms)}
            for ms, rate in rows
        ]
        return 200, _bybit_ok({"category": "linear", "list": data})

    def _bybit_cursor(self, q: dict[str, str], table: dict[str, list[Row]]) -> tuple[int, str]:
        period = q.get("intervalTime") or q.get("period")
        if period != "1h":
            return 200, _bybit_error(10001, "params error: period (1h rows only here)")
        top = 200 if table is self.rows.oi else 500
        sym = self._bybit_symbol(q)
        if sym is None:
            return 200, _bybit_error(10001, "params error: symbol invalid")
        limit = int(q.get("limit", 50))
        if not 0 < limit <= top:
            return 200, _bybit_error(10001, "params error: limit")
        lo, hi = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        rows = [r for r in table[sym] if lo <= r[0] <= hi][::-1]
        skip = int(q["cursor"].removeprefix("lastid=")) if "cursor" in q else 0
        page, rest = rows[skip : skip + limit], rows[skip + limit :]
        cursor = f"lastid%3D{skip + limit}" if rest else ""  # as Bybit sends it: encoded
        if table is self.rows.oi:  # two-sided as documented, one side as singleOpenInterest
            data: list[Any] = [
                {"openInterest": _num(b * 2), "singleOpenInterest": _num(b), "timestamp": str(t)}
                for t, _, b, _ in page
            ]
        else:
            data = [
                {"symbol": sym, "buyRatio": _num(lg), "sellRatio": _num(sh), "timestamp": str(t)}
                for t, lg, sh in page
            ]
        result = {"category": "linear", "symbol": sym, "list": data, "nextPageCursor": cursor}
        return 200, _bybit_ok(result)


_OKX = {
    "/api/v5/public/instruments": LoopbackRest._okx_instruments,
    "/api/v5/market/history-candles": LoopbackRest._okx_candles,
    "/api/v5/public/funding-rate-history": LoopbackRest._okx_funding,
    "/api/v5/rubik/stat/contracts/open-interest-history": lambda s, q: s._okx_rubik(q, s.rows.oi),
    "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract": lambda s, q: s._okx_rubik(
        q, s.rows.ratio
    ),
    "/api/v5/public/liquidation-orders": LoopbackRest._okx_liquidations,
}
_BYBIT = {
    "/v5/market/instruments-info": LoopbackRest._bybit_instruments,
    "/v5/market/kline": LoopbackRest._bybit_kline,
    "/v5/market/funding/history": LoopbackRest._bybit_funding,
    "/v5/market/open-interest": lambda s, q: s._bybit_cursor(q, s.rows.oi),
    "/v5/market/account-ratio": lambda s, q: s._bybit_cursor(q, s.rows.ratio),
}


def _okx_ok(data: list[Any]) -> str:
    return json.dumps({"code": "0", "msg": "", "data": data}, separators=(",", ":"))


def _okx_error(code: str, msg: str) -> str:
    return json.dumps({"code": code, "msg": msg, "data": []}, separators=(",", ":"))


def _bybit_ok(result: dict[str, Any]) -> str:
    body = {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 0}
    return json.dumps(body, separators=(",", ":"))


def _bybit_error(code: int, msg: str) -> str:
    body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 0}
    return json.dumps(body, separators=(",", ":"))


def _json(ws: ServerConnection, status: int, body: str) -> Response:
    resp = ws.respond(status, body)
    headers = Headers((k, v) for k, v in resp.headers.raw_items() if k.lower() != "content-type")
    headers["Content-Type"] = "application/json"
    resp.headers = headers
    return resp
