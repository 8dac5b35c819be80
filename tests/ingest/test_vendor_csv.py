"""Vendor CSV importers: CoinGlass exports, the OKX basis samples and user mappings.

Expected values come from the real files' lines (read here with the stdlib ``csv`` module or
copied from ``grep -n`` output, as each comment says), never from the importer. Data:
``shared/data/coinglass-btc-liq-oi-funding-2025-2026`` and
``shared/data/okx-btc-spot-perp-basis-hourly-2025`` (see their PROVENANCE.md).
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.domain.records import (
    Bar,
    Funding,
    LiquidationBucket,
    MarkPrice,
    OpenInterest,
    Record,
)
from flushwatch.errors import ConfigError, InputError, ParseError, UnknownFormatError
from flushwatch.ingest.base import Format, Hints, Parsed
from flushwatch.ingest.files import read_head
from flushwatch.ingest.validate import validate
from flushwatch.ingest.vendor_csv import FORMATS

CG = "coinglass-btc-liq-oi-funding-2025-2026"
LIQ_1H = f"{CG}/btc_liquidation_1h_2025-11-23_2026-05-22.csv"
LIQ_30M = f"{CG}/btc_liquidation_30m_2026-02-27_2026-05-28.csv"
REGIME_1H = f"{CG}/btc_regime_1h_2025-12-04_2026-06-02.csv"
REGIME_5M = f"{CG}/btc_regime_binance_5m_2026-06-07_2026-06-22.csv"
OKX = "okx-btc-spot-perp-basis-hourly-2025/okx_btc_spot_vs_swap_hourly_utc.csv"
OKX_ORIGINAL = "okx-btc-spot-perp-basis-hourly-2025/funding_basis_data.original.csv"
MS = 1_000_000


def fmt(name: str) -> Format:
    (found,) = [f for f in FORMATS if f.name == name]
    return found


def parse(path: Path, name: str, hints: Hints | None = None) -> Parsed:
    """Read and validate as the registry does (without importing every other format)."""
    parsed = fmt(name).read(path, hints or Hints())
    for cls, df in parsed.frames.items():
        validate(cls, df, path)
    return parsed


def row_at(df: pl.DataFrame, ts_ms: int, **eq: str) -> dict[str, object]:
    sub = df.filter(pl.col("ts_event") == ts_ms * MS)
    for key, value in eq.items():
        sub = sub.filter(pl.col(key) == value)
    assert sub.height == 1
    return sub.row(0, named=True)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def frame(parsed: Parsed, cls: type[Record]) -> pl.DataFrame:
    return parsed.frames[cls]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (LIQ_1H, "coinglass-liquidations"),
        (LIQ_30M, "coinglass-liquidations"),
        (REGIME_1H, "coinglass-regime"),
        (REGIME_5M, "coinglass-regime"),
        (OKX, "okx-hourly-basis"),
        (OKX_ORIGINAL, "okx-hourly-basis"),
        ("freqtrade-binance-xrpusdt-perp-2021-11-12/XRP_USDT_USDT-1h-futures.csv", None),
        ("hyperliquid-2025-10-10-liq-adl-aggregates/combined_impact_by_ticker.csv", None),
    ],
)
def test_sniff_claims_exactly_its_files(shared_data: Path, rel: str, expected: str | None) -> None:
    path = shared_data / rel
    claimed = [f.name for f in FORMATS if f.sniff(path, read_head(path))]
    assert claimed == ([expected] if expected else [])


def test_coinglass_1h_liquidations(shared_data: Path) -> None:
    parsed = parse(shared_data / LIQ_1H, "coinglass-liquidations")
    df = frame(parsed, LiquidationBucket)
    assert df.height == 4316  # PROVENANCE.md "1h: 4,316 rows"; grep -c '' gives 4317 with header
    # line 1792: 1770321600000,2026-02-05T20:00:00.000Z,134454356.1747,7923895.19104,142378251.36574
    row = row_at(df, 1770321600000)
    assert (row["long_usd"], row["short_usd"]) == (134454356.1747, 7923895.19104)
    assert (row["exchange"], row["market"], row["symbol"]) == ("coinglass", "perp", "BTC")
    assert (row["interval_s"], row["_line"]) == (3600, 1792)
    # the export meta beside it names no venue set
    assert row["venues"] == "unspecified"
    # line 1242: 2026-01-13 22:00 short squeeze, short 108990314.99504
    assert row_at(df, 1768341600000)["short_usd"] == 108990314.99504


def test_coinglass_30m_liquidations(shared_data: Path) -> None:
    df = frame(parse(shared_data / LIQ_30M, "coinglass-liquidations"), LiquidationBucket)
    assert df.height == 4320  # PROVENANCE.md "30m: 4,320 rows"
    # line 4088: 1779521400000,2026-05-23T07:30:00.000Z,91088135.796412,91993.5083,...
    row = row_at(df, 1779521400000)
    assert (row["long_usd"], row["short_usd"], row["interval_s"]) == (
        91088135.796412,
        91993.5083,
        1800,
    )


def test_coinglass_regime_1h(shared_data: Path) -> None:
    path = shared_data / REGIME_1H
    parsed = parse(path, "coinglass-regime")
    # PROVENANCE.md: 4,312 rows; two funding series (Binance via CoinGlass + OI-weighted)
    assert {c: df.height for c, df in parsed.frames.items()} == {
        Bar: 4312,
        LiquidationBucket: 4312,
        Funding: 2 * 4312,
        OpenInterest: 4312,
    }
    line = csv_rows(path)[1546 - 2]  # line 1546 of the file: 2026-02-06T16:00:00.000Z
    ts = 1770393600000
    assert line["timestamp"] == str(ts)
    bar = row_at(frame(parsed, Bar), ts)
    assert (bar["exchange"], bar["market"], bar["symbol"]) == ("binance", "spot", "BTCUSDT")
    assert [bar[k] for k in ("open", "high", "low", "close")] == [
        float(line[f"price_{k}"]) for k in ("open", "high", "low", "close")
    ]
    assert bar["volume_base"] is None
    funding = frame(parsed, Funding)
    # CoinGlass funding is in percent: -0.013478 (%) → fraction -0.00013478 (PROVENANCE.md)
    binance = row_at(funding, ts, symbol="BTCUSDT-Binance")
    assert binance["rate"] == float(line["funding_open"]) / 100 == -0.013478 / 100
    assert binance["is_settled"] is False
    assert binance["interval_hours"] == 8.0
    oiw = row_at(funding, ts, symbol="BTC")
    assert oiw["rate"] == float(line["oi_weight_open"]) / 100
    oi = row_at(frame(parsed, OpenInterest), ts)
    assert (oi["symbol"], oi["oi_quote"], oi["oi_base"]) == ("BTCUSDT-Binance", 6006692457.0, None)
    liq = row_at(frame(parsed, LiquidationBucket), 1770321600000)  # line 1526, 2026-02-05 20:00
    assert (liq["long_usd"], liq["venues"]) == (134313226.1747, "Binance,Bybit,OKX")
    assert any("cvd" in n for n in parsed.notes)


def test_binance_regime_5m(shared_data: Path) -> None:
    path = shared_data / REGIME_5M
    parsed = parse(path, "coinglass-regime")
    rows = csv_rows(path)
    changes = sum(
        1
        for i, r in enumerate(rows)
        if i == 0 or r["funding_close"] != rows[i - 1]["funding_close"]
    )
    assert changes == 47  # counted here from the file; one settled rate per 8 h boundary
    assert {c: df.height for c, df in parsed.frames.items()} == {
        Bar: 4406,  # meta.json merged.rows
        Funding: changes,
        OpenInterest: 4406,
    }
    assert LiquidationBucket not in parsed.frames  # the exporter wrote zeros: not data
    # line 907: 2026-06-10T08:05 shows -0.00003385 first (line 906 at 08:00 still 0.00000365)
    settled = row_at(frame(parsed, Funding), 1781078400000)
    assert (settled["rate"], settled["is_settled"], settled["_line"]) == (-0.00003385, True, 907)
    assert (settled["exchange"], settled["symbol"]) == ("binanceusdm", "BTCUSDT")
    bar = row_at(frame(parsed, Bar), 1781049600000)  # line 810: 2026-06-10T00:00
    assert (bar["open"], bar["close"], bar["interval_s"]) == (61694.9, 61804.5, 300)


def test_okx_hourly_basis(shared_data: Path) -> None:
    parsed = parse(shared_data / OKX, "okx-hourly-basis")
    # PROVENANCE.md: 6,406 rows; two MarkPrice rows (spot, perp) per sample
    assert {c: df.height for c, df in parsed.frames.items()} == {
        Funding: 6406,
        OpenInterest: 6406,
        MarkPrice: 2 * 6406,
    }
    # line 4181: 2025-10-10T21:18:44Z,...,108339.4,108539.0,0.184..,-5.16962340333e-05,7739780.0
    ts = 1760131124000  # 2025-10-10T21:18:44Z
    marks = frame(parsed, MarkPrice)
    assert row_at(marks, ts, symbol="BTC-USDT")["last_price"] == 108339.4
    assert row_at(marks, ts, symbol="BTC-USD-SWAP")["last_price"] == 108539.0
    funding = row_at(frame(parsed, Funding), ts)
    assert (funding["rate"], funding["is_settled"]) == (-5.16962340333e-05, False)
    oi = row_at(frame(parsed, OpenInterest), ts)
    assert oi["oi_quote"] == 7739780.0 * 100  # contracts of 100 USD
    assert oi["oi_base"] == 7739780.0 * 100 / 108539.0
    # lines 2-4 were hand-seeded at one commit time: they get their (UTC) labels instead
    first = frame(parsed, Funding).head(4).get_column("ts_event").to_list()
    assert first == [
        1742904000000 * MS,  # 2025-03-25 12:00 UTC
        1743084000000 * MS,  # 2025-03-27 14:00 UTC
        1743328800000 * MS,  # 2025-03-30 10:00 UTC
        1743432638000 * MS,  # 2025-03-31T14:50:38Z, line 5
    ]
    assert any("hand-seeded" in n for n in parsed.notes)
    assert not any("basis" in n for n in parsed.notes)  # every basis matches its prices
    (perp,) = [i for i in parsed.instruments if i.symbol == "BTC-USD-SWAP"]
    assert (perp.unified, perp.contract_size) == ("BTC/USD:BTC", 100.0)


def test_okx_original_is_refused_for_its_time_zone(shared_data: Path) -> None:
    with pytest.raises(InputError, match="NOT UTC") as err:
        parse(shared_data / OKX_ORIGINAL, "okx-hourly-basis")
    assert "Asia/Almaty" in str(err.value)
    # a hint is needed: a folder import skips the file with this reason instead of failing
    assert isinstance(err.value, UnknownFormatError)
    assert "--mapping" in str(err.value)
    assert "timezone" in str(err.value)


def test_okx_original_imports_with_a_declared_time_zone(shared_data: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "okx.toml"
    mapping.write_text(
        'exchange = "okx"\nmarket = "perp"\nsymbol = "BTC-USD-SWAP"\n'
        'skip = ["spot_price", "basis", "funding_rate", "open_interest", "cvd"]\n'
        '[time]\ncolumn = "date"\nformat = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]\n'
        'timezone = "Asia/Almaty"\n'
        '[[prices]]\nlast_price = "futures_price"\n'
    )
    parsed = parse(shared_data / OKX_ORIGINAL, "okx-hourly-basis", Hints(mapping=mapping))
    marks = frame(parsed, MarkPrice)
    assert marks.height == 6406
    # line 4181 is labelled 2025-10-11 02:00:00 in Almaty time = 2025-10-10T21:00:00Z
    row = marks.filter(pl.col("_line") == 4181).row(0, named=True)
    assert (row["ts_event"], row["last_price"]) == (1760130000000 * MS, 108539.0)


def write_mapping(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "map.toml"
    path.write_text(body)
    return path


def test_mapping_rejects_unknown_key(tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path,
        'exchange = "x"\nmarket = "perp"\nsymbol = "BTC"\n[time]\ncolumn = "t"\nunit = "ms"\n'
        '[[funding]]\nrate = "f"\nunti = "percent"\n',
    )
    with pytest.raises(ConfigError, match="unti") as err:
        fmt("vendor-csv").read(tmp_path / "x.csv", Hints(mapping=mapping))
    assert str(mapping) in str(err.value)


def test_mapping_requires_a_funding_unit(tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path,
        'exchange = "x"\nmarket = "perp"\nsymbol = "BTC"\n[time]\ncolumn = "t"\nunit = "ms"\n'
        '[[funding]]\nrate = "f"\n',
    )
    with pytest.raises(ConfigError, match="unit"):
        fmt("vendor-csv").read(tmp_path / "x.csv", Hints(mapping=mapping))


def test_generic_format_needs_a_mapping(shared_data: Path) -> None:
    with pytest.raises(InputError, match="--mapping"):
        fmt("vendor-csv").read(shared_data / LIQ_1H, Hints())


def copy_with(src: Path, dst: Path, line: int, old: str, new: str) -> Path:
    lines = src.read_text().split("\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    dst.write_text("\n".join(lines))
    return dst


def test_garbage_number_names_line_and_field(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / LIQ_1H
    # line 10 of the file: 1763902800000,2025-11-23T13:00:00.000Z,141563.88537,...
    bad = copy_with(src, tmp_path / src.name, 10, ",141563.88537,", ",141563.8x537,")
    with pytest.raises(ParseError) as err:
        parse(bad, "coinglass-liquidations")
    assert (err.value.line, err.value.field) == (10, "longUsd")


def test_inconsistent_total_names_line(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / LIQ_1H
    # line 1792: total 142378251.36574 = 134454356.1747 + 7923895.19104
    bad = copy_with(src, tmp_path / src.name, 1792, "142378251.36574", "142378252.36574")
    with pytest.raises(ParseError, match="not long") as err:
        parse(bad, "coinglass-liquidations")
    assert (err.value.line, err.value.field) == (1792, "totalUsd")


def test_wrong_interval_in_file_name_is_caught(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / LIQ_1H
    renamed = tmp_path / src.name.replace("_1h_", "_2h_")
    renamed.write_bytes(src.read_bytes())
    with pytest.raises(ParseError, match="not a multiple") as err:
        parse(renamed, "coinglass-liquidations")
    assert err.value.line == 3  # the first 1 h step is from line 2 to line 3


def test_missing_column_is_named(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / LIQ_1H
    bad = copy_with(src, tmp_path / src.name, 1, "shortUsd", "shortUSD")
    with pytest.raises(ParseError) as err:
        fmt("coinglass-liquidations").read(bad, Hints())
    assert (err.value.line, err.value.field) == (1, "shortUsd")


def test_wrong_time_unit_in_user_mapping(shared_data: Path, tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path,
        'exchange = "coinglass"\nmarket = "perp"\nsymbol = "BTC"\ninterval_s = 3600\n'
        'skip = ["datetime_utc", "totalUsd"]\n'
        '[time]\ncolumn = "timestamp"\nunit = "s"\n'
        '[[liquidations]]\nlong_usd = "longUsd"\nshort_usd = "shortUsd"\n',
    )
    with pytest.raises(ParseError, match="wrong time unit") as err:
        parse(shared_data / LIQ_1H, "vendor-csv", Hints(mapping=mapping))
    assert (err.value.line, err.value.field) == (2, "timestamp")


def test_user_mapping_names_unmapped_columns(shared_data: Path, tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path,
        'exchange = "coinglass"\nmarket = "perp"\nsymbol = "BTC"\ninterval_s = 3600\n'
        'venues = "Binance,Bybit,OKX"\n'
        '[time]\ncolumn = "datetime_utc"\n'
        '[[liquidations]]\nlong_usd = "longUsd"\nshort_usd = "shortUsd"\n',
    )
    parsed = parse(shared_data / LIQ_1H, "vendor-csv", Hints(mapping=mapping))
    df = frame(parsed, LiquidationBucket)
    assert df.height == 4316
    assert row_at(df, 1770321600000)["venues"] == "Binance,Bybit,OKX"
    assert any("timestamp, totalUsd" in n for n in parsed.notes)


#: Funding rates beyond ±1 (100 % per interval) are refused at import (ingest.validate).
_DECIMAL = st.decimals(min_value=-1, max_value=1, places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(_DECIMAL, min_size=1, max_size=20))
def test_percent_and_fraction_units(values: list[object]) -> None:
    """A percent column is exactly value/100 and a fraction column is taken as it is."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        body = "t,f\n" + "".join(f"{1700000000 + i * 3600},{v}\n" for i, v in enumerate(values))
        (root / "x.csv").write_text(body)
        mapping = write_mapping(
            root,
            'exchange = "x"\nmarket = "perp"\nsymbol = "X"\n[time]\ncolumn = "t"\nunit = "s"\n'
            '[[funding]]\nrate = "f"\nunit = "percent"\n'
            '[[funding]]\nrate = "f"\nunit = "fraction"\nsymbol = "Y"\n',
        )
        df = parse(root / "x.csv", "vendor-csv", Hints(mapping=mapping)).frames[Funding]
    pct = df.filter(pl.col("symbol") == "X").get_column("rate").to_list()
    frac = df.filter(pl.col("symbol") == "Y").get_column("rate").to_list()
    assert pct == [float(Decimal(str(v)) / 100) for v in values]  # exact decimal shift
    assert frac == [float(str(v)) for v in values]


def test_okx_shared_sample_time_after_utc_era_is_refused(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / OKX
    # line 4182 starts 2025-10-10T22:...; give it line 4181's time (2025-10-10T21:18:44Z): its
    # label 2025-10-11 03:00:00 is Almaty time, so the label cannot stand in for the sample time
    lines = src.read_text().split("\n")
    lines[4181] = "2025-10-10T21:18:44Z" + lines[4181][len("2025-10-10T21:18:44Z") :]
    bad = tmp_path / src.name
    bad.write_text("\n".join(lines))
    with pytest.raises(ParseError, match="cannot tell when") as err:
        parse(bad, "okx-hourly-basis")
    assert (err.value.line, err.value.field) == (4181, "sample_time_utc_approx")


def test_mapping_implies_vendor_csv_on_the_command_line(tmp_path: Path) -> None:
    """A file no format recognises imports as vendor-csv when --mapping is given (constructed
    two-row funding export, percent per 8 h)."""
    from typer.testing import CliRunner

    from flushwatch.cli.app import app

    (tmp_path / "export.csv").write_text("t,f\n1770336000,0.01\n1770364800,-0.005\n")
    mapping = write_mapping(
        tmp_path,
        'exchange = "x"\nmarket = "perp"\nsymbol = "XUSDT"\n[time]\ncolumn = "t"\nunit = "s"\n'
        '[[funding]]\nrate = "f"\nunit = "percent"\n',
    )
    store = tmp_path / "store"
    args = ["import", str(tmp_path / "export.csv"), "--store", str(store)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code != 0
    assert "cannot tell which format" in refused.output
    done = CliRunner().invoke(app, [*args, "--mapping", str(mapping), "--json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert doc["rows_added"] == 2
    assert doc["imported"][0]["format"] == "vendor-csv"
