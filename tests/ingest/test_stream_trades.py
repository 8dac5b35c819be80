"""aggTrades/trades read in pieces give exactly the rows of the whole-file reader.

The input is the real Binance USD-M BTCUSDT trades of ``shared/data/hftbacktest-binance-ws-
2024-08-08/usdm_btcusdt_20240808.gz`` (21,313, PROVENANCE.md) written to a temporary file in
Binance Vision's aggTrades layout (one trade per aggregate, as the stream sends them); the
streamed rows are compared with :class:`BinanceVisionAggTrades` reading the same file whole.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flushwatch.api.stream_import import import_trades_streaming
from flushwatch.domain.records import Trade
from flushwatch.errors import ParseError
from flushwatch.ingest.registry import parse
from flushwatch.ingest.stream_trades import trade_chunks
from flushwatch.store import Store

HFT = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"


@pytest.fixture(scope="module")
def lines(shared_data: Path) -> list[str]:
    """The real trades as aggTrades CSV lines (no header)."""
    out = []
    with gzip.open(shared_data.joinpath(*HFT), "rt") as fh:
        for line in fh:
            msg = json.loads(line.partition(" ")[2])
            if msg.get("stream", "").endswith("@trade"):
                d = msg["data"]
                maker = "true" if d["m"] else "false"
                out.append(f"{d['t']},{d['p']},{d['q']},{d['t']},{d['t']},{d['T']},{maker}")
    assert len(out) == 21_313
    return out


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def streamed(path: Path, chunk_bytes: int) -> pl.DataFrame:
    pieces = [p.frames[Trade] for p in trade_chunks(path, chunk_bytes=chunk_bytes)]
    assert len(pieces) > 1
    return pl.concat(pieces)


def test_pieces_equal_the_whole_file_reader(tmp_path: Path, lines: list[str]) -> None:
    path = write(tmp_path / "um-BTCUSDT-aggTrades-2024-08-08.csv", HEADER + "\n" + "\n".join(lines))
    whole = parse(path).frames[Trade]
    assert whole.height == 21_313
    got = streamed(path, 64 << 10)  # ~1,000 rows a piece
    assert_frame_equal(got, whole)
    assert got.get_column("_line").to_list() == list(range(2, 21_315))  # the file's lines


def test_headerless_zip_and_gzip_stream_too(tmp_path: Path, lines: list[str]) -> None:
    body = "\n".join(lines[:5000]) + "\n"
    plain = write(tmp_path / "um-BTCUSDT-aggTrades-2024-08-08.csv", body)
    whole = parse(plain).frames[Trade]
    gz = tmp_path / "gz" / plain.name
    gz.parent.mkdir()
    gz = gz.with_name(plain.name + ".gz")
    gz.write_bytes(gzip.compress(body.encode()))
    zp = tmp_path / "um-BTCUSDT-aggTrades-2024-08-08.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr(plain.name, body)
    digest = hashlib.sha256(zp.read_bytes()).hexdigest()
    zp.with_name(zp.name + ".CHECKSUM").write_text(f"{digest}  {zp.name}\n")
    for path in (plain, gz, zp):
        assert_frame_equal(streamed(path, 32 << 10), whole)


def test_unusual_values_take_the_exact_path_with_the_same_rows(
    tmp_path: Path, lines: list[str]
) -> None:
    """Spaces around values and TRUE/False spellings: the typed fast path declines the piece,
    the exact reader parses it, and the rows are those of the whole-file reader."""
    odd = [ln.replace(",", ", ", 1).replace("true", "TRUE") for ln in lines[:3000]]
    path = write(tmp_path / "um-BTCUSDT-aggTrades-2024-08-08.csv", "\n".join(odd))
    assert_frame_equal(streamed(path, 16 << 10), parse(path).frames[Trade])


def test_a_bad_value_late_in_the_file_writes_nothing(tmp_path: Path, lines: list[str]) -> None:
    bad = list(lines)
    bad[20_000] = bad[20_000].replace(",", ",x", 1)  # a price that is not a number
    path = write(tmp_path / "um-BTCUSDT-aggTrades-2024-08-08.csv", HEADER + "\n" + "\n".join(bad))
    store = Store.open(tmp_path / "store")
    with pytest.raises(ParseError) as err:
        import_trades_streaming(store, path, chunk_bytes=64 << 10)
    assert err.value.line == 20_002  # header + 20,001st row
    assert err.value.field == "price"
    assert store.read(Trade).height == 0
    assert store.datasets() == []


def test_streaming_import_adds_every_row_once(tmp_path: Path, lines: list[str]) -> None:
    path = write(tmp_path / "um-BTCUSDT-aggTrades-2024-08-08.csv", HEADER + "\n" + "\n".join(lines))
    store = Store.open(tmp_path / "store")
    summary = import_trades_streaming(store, path, chunk_bytes=64 << 10)
    assert summary.rows_read == summary.rows_added == {"trades": 21_313}
    assert summary.format == "binance-vision-agg-trades"
    again = import_trades_streaming(store, path, chunk_bytes=256 << 10)
    assert again.rows_added == {"trades": 0}
    assert again.seen_before
    whole = Store.open(tmp_path / "whole")
    whole.write([parse(path)])
    assert_frame_equal(store.read(Trade), whole.read(Trade))
