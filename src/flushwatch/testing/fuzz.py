"""Fuzz ``flushwatch import`` with mutations of small REAL files (issue 14).

A *seed* is the head of a real file in ``../shared/data`` (its first lines, decompressed, under
its own logical name so that detection sees what it would see), or a small real binary file
whole (freqtrade feather and JSON.gz). A *mutation* changes it the way bad luck or an attacker
would: cut it short, swap digits, put a huge number, NaN, inf, an empty value, a long or odd
symbol or a bad timestamp into one field, drop or repeat lines, re-encode it (UTF-16, Latin-1,
a BOM, NUL bytes), or flip bytes of a compressed or binary file. :func:`import_outcome` runs
the real import (the caller passes :func:`flushwatch.cli.commands.run_import`, what
``flushwatch import`` runs) into a store and says what happened: it succeeded, it failed with
a :class:`FlushwatchError` (whose message must name the file), or anything else escaped (a
*traceback*, the bug class).
A failed import must leave the store byte-identical (:func:`snapshot`).

The mutations take a :class:`random.Random`: hypothesis drives it in the test suite
(``st.randoms``, derandomized), a seeded generator drives ``bench/fuzz_import.py``.
"""

from __future__ import annotations

import gzip
import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flushwatch.errors import FlushwatchError
from flushwatch.ingest.files import logical_name, read_bytes


@dataclass(frozen=True)
class Seed:
    """One real file to mutate: ``lines`` of its head (0: the whole file, bytes as stored)."""

    format: str
    path: tuple[str, ...]
    lines: int = 12

    @property
    def name(self) -> str:
        """File name the seed is written under (compression suffix dropped for text heads)."""
        return self.path[-1] if self.lines == 0 else logical_name(Path(self.path[-1]))

    @property
    def binary(self) -> bool:
        """Whether the seed is mutated as bytes only (feather, gzip)."""
        return self.lines == 0


_BV = "binance-vision-format-examples"
_CG = "coinglass-btc-liq-oi-funding-2025-2026"
_CF = "cryptofeed-ws-recordings"
_XRP = "freqtrade-binance-xrpusdt-perp-2021-11-12"
_HB = "hftbacktest-binance-ws-2024-08-08"
_OKX = "okx-btc-spot-perp-basis-hourly-2025"
_TD = "tardis-csv-samples"

#: Every format ``flushwatch import`` detects in the shared data, each from a real file.
#: (``vendor-csv`` needs a user mapping file and the shared data has no Binance Vision
#: trades/aggTrades/bookTicker file, so those formats are not seeded.)
SEEDS: tuple[Seed, ...] = (
    Seed(
        "binance-vision-funding",
        ("binance-btcusdt-funding-event-windows", "BTCUSDT-funding-event-windows.csv"),
    ),
    Seed("binance-vision-book-depth", (_BV, "BTCUSDT-bookDepth-2025-05-19-excerpt.csv")),
    Seed("binance-vision-metrics", (_BV, "HYPEUSDT-metrics-2025-05-30-excerpt.csv")),
    Seed("binance-vision-metrics", (_BV, "cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv")),
    Seed("binance-vision-klines", (_BV, "cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv")),
    Seed("binance-vision-klines", (_BV, "spot-BTCUSDT-1h-2023-10-27-excerpt-noheader.csv")),
    Seed(
        "binance-vision-liquidations",
        (_BV, "cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv"),
    ),
    Seed("coinglass-liquidations", (_CG, "btc_liquidation_1h_2025-11-23_2026-05-22.csv")),
    Seed("coinglass-liquidations", (_CG, "btc_liquidation_30m_2026-02-27_2026-05-28.csv")),
    Seed("coinglass-regime", (_CG, "btc_regime_1h_2025-12-04_2026-06-02.csv"), 8),
    Seed("coinglass-regime", (_CG, "btc_regime_binance_5m_2026-06-07_2026-06-22.csv"), 8),
    Seed("cryptofeed-jsonl", (_CF, "BINANCE_FUTURES.jsonl.zst"), 30),
    Seed("cryptofeed-jsonl", (_CF, "BYBIT.jsonl.zst"), 30),
    Seed("cryptofeed-jsonl", (_CF, "OKX.jsonl.zst"), 30),
    Seed("cryptofeed-jsonl", (_CF, "BINANCE_DELIVERY.jsonl.zst"), 30),
    Seed("cryptofeed-raw", (_CF, "master-branch-raw", "BINANCE_FUTURES.0.gz"), 30),
    Seed("cryptofeed-raw", (_CF, "master-branch-raw", "OKX.ws.1.0.gz"), 30),
    Seed("freqtrade-ohlcv", (_XRP, "XRP_USDT_USDT-1h-futures.csv")),
    Seed("freqtrade-ohlcv", (_XRP, "XRP_USDT_USDT-8h-funding_rate.csv")),
    Seed("freqtrade-ohlcv", (_XRP, "XRP_USDT_USDT-8h-mark.csv")),
    Seed("freqtrade-ohlcv", (_XRP, "original", "XRP_USDT_USDT-8h-funding_rate.feather"), 0),
    Seed("freqtrade-ohlcv", (_XRP, "original", "XRP_USDT_USDT-1h-futures.json.gz"), 0),
    Seed("ws-lines", (_HB, "usdm_btcusdt_20240808.gz"), 40),
    Seed("ws-lines", (_HB, "spot_btcusdt_20240808.gz"), 40),
    Seed("ws-lines", (_HB, "hyperliquid_btcusd_20250126.gz"), 20),
    Seed("okx-hourly-basis", (_OKX, "okx_btc_spot_vs_swap_hourly_utc.csv")),
    Seed("tardis-trades", (_TD, "bitmex_trades_XBTUSD.csv")),
    Seed("tardis-book-snapshot", (_TD, "binance-futures_book_snapshot_5_BTCUSDT.csv")),
    Seed("tardis-derivative-ticker", (_TD, "deribit_derivative_ticker_BTC-PERPETUAL.csv")),
    Seed("tardis-derivative-ticker", (_TD, "okex-swap_derivative_ticker_BTC-USDC-SWAP.csv")),
    Seed("tardis-incremental-book", (_TD, "deribit_incremental_book_L2_BTC-PERPETUAL.csv")),
    Seed("tardis-quotes", (_TD, "huobi-dm-swap_quotes_BTC-USD.csv")),
)


def seed_bytes(seed: Seed, data_root: Path) -> bytes:
    """The seed's content: the file's first ``lines`` lines decompressed, or its bytes."""
    path = data_root.joinpath(*seed.path)
    if seed.binary:
        return path.read_bytes()
    return b"".join(read_bytes(path).splitlines(keepends=True)[: seed.lines])


#: What goes into one field: the cases the issue names (overflow, NaN/inf, empty, long and
#: odd symbols, bad timestamps) and a few more.
PAYLOADS: tuple[str, ...] = (
    "",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1e309",
    "1e20",
    "-1",
    "0",
    "-0.0",
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "-9223372036854775809",
    "0x1F",
    "1_000",
    " 12 ",
    "1,5",
    "12abc",
    "null",
    "true",
    "[]",
    "{}",
    '"',
    "'",
    "\x00",
    "é",
    "\ufeff",
    "..",
    "../../etc",
    "BTC/USDT",
    "A" * 300,
    "Z" * 64,
    "BTC\tUSDT",
    "2099-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "0001-01-01",
    "2024-02-30 25:61:61",
    "not a time",
    "4102444800000",
    "4102444800000000000",
    "-62135596800000",
    "1722816000",
    "17228160000000000000000",
)

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_JSON_VALUE = re.compile(rb'(?<=":)(-?\d[\d.eE+-]*|"[^"\\]*"|true|false|null)')


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _pick_line(rng: random.Random, lines: list[bytes]) -> int:
    nonempty = [i for i, line in enumerate(lines) if line.strip()] or [0]
    return rng.choice(nonempty)


def _payload(rng: random.Random) -> bytes:
    return rng.choice(PAYLOADS).encode()


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut the file at a random byte (a torn download or a crash mid-write)."""
    return data[: rng.randrange(len(data) + 1)] if data else data


def replace_field(data: bytes, rng: random.Random) -> bytes:
    """Replace one comma-separated field of one line with a payload."""
    lines = _lines(data)
    i = _pick_line(rng, lines)
    fields = lines[i].split(b",")
    j = rng.randrange(len(fields))
    fields[j] = _payload(rng)
    lines[i] = b",".join(fields)
    return b"\n".join(lines)


def replace_json_value(data: bytes, rng: random.Random) -> bytes:
    """Replace one JSON value (after ``"key":``) with a payload, quoted or bare."""
    spans = [m.span() for m in _JSON_VALUE.finditer(data)]
    if not spans:
        return replace_field(data, rng)
    start, end = rng.choice(spans)
    raw = _payload(rng)
    value = raw if rng.random() < 0.5 else b'"' + raw.replace(b'"', b'\\"') + b'"'
    return data[:start] + value + data[end:]


def replace_number(data: bytes, rng: random.Random) -> bytes:
    """Replace one number anywhere (timestamps, prices, ids) with a payload."""
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return data
    start, end = rng.choice(spans)
    return data[:start] + _payload(rng) + data[end:]


def swap_digits(data: bytes, rng: random.Random) -> bytes:
    """Swap two neighbouring digits, or change one digit."""
    digits = [i for i in range(len(data)) if 48 <= data[i] <= 57]
    if not digits:
        return data
    i = rng.choice(digits)
    out = bytearray(data)
    if i + 1 < len(out) and 48 <= out[i + 1] <= 57 and rng.random() < 0.5:
        out[i], out[i + 1] = out[i + 1], out[i]
    else:
        out[i] = 48 + rng.randrange(10)
    return bytes(out)


def drop_line(data: bytes, rng: random.Random) -> bytes:
    """Delete one line (the header, a row, a snapshot)."""
    lines = _lines(data)
    del lines[_pick_line(rng, lines)]
    return b"\n".join(lines)


def repeat_line(data: bytes, rng: random.Random) -> bytes:
    """Repeat one line elsewhere (duplicates, out-of-order rows)."""
    lines = _lines(data)
    line = lines[_pick_line(rng, lines)]
    lines.insert(rng.randrange(len(lines) + 1), line)
    return b"\n".join(lines)


def cut_line(data: bytes, rng: random.Random) -> bytes:
    """Cut one line short in the middle."""
    lines = _lines(data)
    i = _pick_line(rng, lines)
    lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    return b"\n".join(lines)


def reencode(data: bytes, rng: random.Random) -> bytes:
    """The wrong encoding: UTF-16, Latin-1 bytes, a BOM, NULs, CRLF or mixed line ends."""
    kind = rng.randrange(6)
    if kind == 0:
        return data.decode("utf-8", "replace").encode("utf-16")
    if kind == 1:
        return b"\xef\xbb\xbf" + data
    if kind == 2:
        i = rng.randrange(len(data) + 1)
        return data[:i] + bytes([rng.choice((0xE9, 0xFF, 0xC3, 0x80))]) + data[i:]
    if kind == 3:
        i = rng.randrange(len(data) + 1)
        return data[:i] + b"\x00" * rng.randint(1, 4) + data[i:]
    if kind == 4:
        return data.replace(b"\n", b"\r\n")
    return data.replace(b"\n", b"\r", rng.randint(1, 3))


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """Overwrite 1-8 random bytes (bit rot, a corrupt archive or Arrow buffer)."""
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def gzip_then_damage(data: bytes, rng: random.Random) -> bytes:
    """Mutate the decompressed content of a gzip file, then maybe cut the archive."""
    try:
        inner = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):  # not (or no longer) a whole gzip file
        return flip_bytes(data, rng)
    inner = rng.choice(TEXT_MUTATIONS)(inner, rng)
    packed = gzip.compress(inner, mtime=0)
    return truncate(packed, rng) if rng.random() < 0.3 else packed


Mutation = Callable[[bytes, random.Random], bytes]

TEXT_MUTATIONS: tuple[Mutation, ...] = (
    truncate,
    replace_field,
    replace_field,
    replace_json_value,
    replace_number,
    replace_number,
    swap_digits,
    drop_line,
    repeat_line,
    cut_line,
    reencode,
)
BINARY_MUTATIONS: tuple[Mutation, ...] = (truncate, flip_bytes, flip_bytes, gzip_then_damage)


#: Odd file-name parts: importers read symbols and venues from names (freqtrade pairs,
#: Binance Vision and hftbacktest prefixes, Tardis exchanges).
NAME_PARTS: tuple[str, ...] = ("..", "A" * 200, "é", "BTC USDT", "", "-", "_", "0", "BTC:USDT")


def rename(name: str, rng: random.Random) -> str:
    """Replace one ``_``/``-`` separated part of a file name (never its extension)."""
    stem, dot, ext = name.partition(".")
    parts = re.split(r"([_-])", stem)
    words = list(range(0, len(parts), 2))
    parts[rng.choice(words)] = rng.choice(NAME_PARTS)
    out = "".join(parts) + dot + ext
    return out if 0 < len(out.encode()) <= 255 and out not in (".", "..") else name


@dataclass(frozen=True)
class Mutant:
    """A mutated seed: the file name and bytes to import and how they were made."""

    name: str
    data: bytes
    steps: tuple[str, ...]


def mutate(seed: Seed, data: bytes, rng: random.Random) -> Mutant:
    """Apply one to three mutations to the content, sometimes one to the file name."""
    pool = BINARY_MUTATIONS if seed.binary else TEXT_MUTATIONS
    steps: list[str] = []
    for _ in range(rng.randint(1, 3)):
        step = rng.choice(pool)
        data = step(data, rng)
        steps.append(step.__name__)
    name = seed.name
    if rng.random() < 0.1:
        name = rename(name, rng)
        steps.append("rename")
    return Mutant(name, data, tuple(steps))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (a failed import must not change one)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@dataclass(frozen=True)
class Outcome:
    """What one import did: ``ok``, ``error`` (a FlushwatchError) or ``traceback``."""

    kind: str
    message: str = ""
    exception: str = ""


#: Imports one file into a store the way ``flushwatch import`` does, raising what it raises.
#: The caller passes the real command (tests and bench give ``cli.commands.run_import``; this
#: kit may not import the CLI, a front end).
Importer = Callable[[Path, Path], object]


def import_outcome(path: Path, store: Path, run: Importer) -> Outcome:
    """Run ``run(path, store)`` (the real import) and classify how it ended."""
    try:
        run(path, store)
    except FlushwatchError as exc:
        return Outcome("error", str(exc), type(exc).__name__)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the bug class; a Rust panic is a BaseException
        return Outcome("traceback", f"{type(exc).__name__}: {exc}", type(exc).__name__)
    return Outcome("ok")


@dataclass(frozen=True)
class Verdict:
    """One fuzzed import judged: the outcome and the two promises beside "no traceback"."""

    outcome: Outcome
    #: A failed import changed a byte (or a name) under the store.
    store_changed: bool
    #: An error whose message does not name the file it is about.
    unnamed: bool


def judge(path: Path, store: Path, run: Importer) -> Verdict:
    """Import ``path`` into ``store`` and check the promises."""
    before = snapshot(store)
    outcome = import_outcome(path, store, run)
    changed = outcome.kind != "ok" and snapshot(store) != before
    unnamed = outcome.kind == "error" and path.name not in outcome.message
    return Verdict(outcome, changed, unnamed)


def template_store(seed: Seed, data_root: Path, folder: Path, run: Importer) -> Path:
    """A store holding the clean import of ``seed`` (what a fuzzed import must not damage)."""
    clean = folder / "clean" / seed.name
    clean.parent.mkdir(parents=True, exist_ok=True)
    clean.write_bytes(seed_bytes(seed, data_root))
    store = folder / "store"
    outcome = import_outcome(clean, store, run)
    if outcome.kind != "ok":
        raise RuntimeError(f"seed {seed.name} does not import cleanly: {outcome.message}")
    return store
