"""Aggregated vendor CSV exports, read through a declared column mapping.

Formats (all detected by their exact header; ``--mapping FILE`` replaces the built-in mapping
of any of them, see :mod:`flushwatch.ingest.vendor_mapping` for the TOML keys):

* ``coinglass-liquidations`` — CoinGlass aggregated liquidation history
  (``timestamp,datetime_utc,longUsd,shortUsd,totalUsd``). The bucket length comes from the file
  name (``_1h_``, ``_30m_``) or the ``*.meta.json`` beside it; the venue set from that meta's
  ``exchangeList`` when it has one, else ``"unspecified"`` (the exporter's script used
  ``Binance,Bybit,OKX`` for the 30m file although its meta does not say so: claiming ``"all"``
  would overstate the coverage, DOMAIN.md §1.4.3).
* ``coinglass-regime`` — the 25-column "regime" merges (price, liquidations, funding, OI,
  OI-weighted funding, CVD). Two layouts share the header: the CoinGlass merge and a Binance-only
  merge (``*_binance_5m_*``, meta ``requested.symbol``); see
  :mod:`flushwatch.ingest.vendor_builtin` for what each column really is.
* ``okx-hourly-basis`` — OKX BTC spot vs BTC-USD-SWAP hourly samples with a UTC sample time.
  The original file of that dataset (``date`` column) is refused: its labels switch from UTC to
  Asia/Almaty (UTC+5) around 2025-04-06, so importing them as UTC shifts most rows by 5 hours.
* ``vendor-csv`` — any CSV with a user mapping (``--mapping FILE``); never auto-detected.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import polars as pl

from flushwatch.domain.records import Bar, LiquidationBucket
from flushwatch.domain.tables import LINE
from flushwatch.domain.time import NS_PER_S
from flushwatch.errors import InputError, ParseError, UnknownFormatError
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.csvtools import floats, read_csv_strings, require_columns
from flushwatch.ingest.files import logical_name, read_bytes
from flushwatch.ingest.vendor_apply import apply_mapping
from flushwatch.ingest.vendor_builtin import (
    BINANCE_REGIME_5M,
    COINGLASS_LIQUIDATIONS,
    COINGLASS_REGIME,
    OKX_HOURLY_BASIS,
)
from flushwatch.ingest.vendor_mapping import Mapping, check_mapping, load_mapping

LIQ_HEADER = ("timestamp", "datetime_utc", "longUsd", "shortUsd", "totalUsd")
REGIME_HEADER = (
    "timestamp",
    "datetime_utc",
    *(f"price_{p}" for p in ("open", "high", "low", "close")),
    *(f"liquidation_{s}_usd" for s in ("long", "short", "total")),
    *(
        f"{m}_{p}"
        for m in ("funding", "oi", "oi_weight", "cvd")
        for p in ("open", "high", "low", "close")
    ),
)
OKX_HEADER = (
    "sample_time_utc_approx",
    "label_original",
    "spot_price",
    "futures_price",
    "basis",
    "funding_rate",
    "open_interest",
    "cvd",
)
OKX_ORIGINAL_HEADER = ("date", *OKX_HEADER[2:])

_UNITS_S = {"m": 60, "h": 3600, "d": 86_400}
_INTERVAL_RE = re.compile(r"_(\d+)([mhd])_", re.IGNORECASE)
#: Basis is printed in percent with ≥ 6 decimals; anything further off is not rounding.
BASIS_TOLERANCE_PCT = 1e-5
#: PROVENANCE.md (okx-btc-spot-perp-basis-hourly-2025): labels are UTC until ~2025-04-06.
_OKX_LABELS_UTC_UNTIL = "2025-04-06"


def header(head: bytes) -> tuple[str, ...] | None:
    """Return the first line of ``head`` split on commas, or None if it is not text."""
    first = head.split(b"\n", 1)[0].strip(b"\r").removeprefix(b"\xef\xbb\xbf")
    try:
        return tuple(first.decode("ascii").split(","))
    except UnicodeDecodeError:
        return None


def _stem(path: Path) -> str:
    return logical_name(path).removesuffix(".csv")


def read_meta(path: Path, parsed: Parsed) -> dict[str, object]:
    """Return the exporter's ``*.meta.json`` beside ``path`` (``{}`` when there is none)."""
    stem = _stem(path)
    candidates = [path.with_name(stem + ".meta.json"), path.with_name(path.name + ".meta.json")]
    candidates += sorted(
        p
        for p in path.parent.glob("*.export_meta.json")
        if stem.startswith(p.name.removesuffix(".export_meta.json") + "_")
    )
    for meta in candidates:
        if meta.is_file():
            try:
                value = msgspec.json.decode(meta.read_bytes())
            except (msgspec.DecodeError, OSError) as exc:
                parsed.notes.append(f"ignored unreadable {meta.name}: {exc}")
                continue
            if isinstance(value, dict):
                parsed.notes.append(f"read export metadata from {meta.name}")
                return value
    return {}


def _meta_get(meta: dict[str, object], key: str) -> object:
    requested = meta.get("requested")
    if key in meta:
        return meta[key]
    return requested.get(key) if isinstance(requested, dict) else None


def interval_s(path: Path, meta: dict[str, object]) -> int:
    """Bucket length from the file name (``_1h_``) or the meta's ``interval``."""
    found = _INTERVAL_RE.search(_stem(path))
    text = f"{found.group(1)}{found.group(2)}" if found else _meta_get(meta, "interval")
    if isinstance(text, str) and (m := re.fullmatch(r"(\d+)([mhd])", text.lower())):
        return int(m.group(1)) * _UNITS_S[m.group(2)]
    raise InputError(
        "cannot tell the bucket length: the file name has no _<n>m_/_<n>h_ token and no "
        "meta.json says 'interval'; rename the file or pass --mapping with interval_s",
        path=path,
    )


def _check_steps(parsed: Parsed, cls: type[Bar] | type[LiquidationBucket], path: Path) -> None:
    df = parsed.frames.get(cls)
    if df is None or df.height < 2:
        return
    step = int(df.get_column("interval_s")[0]) * NS_PER_S
    bad = (df.get_column("ts_event").diff() % step != 0).fill_null(value=False)
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise ParseError(
            f"time step to {df.get_column('ts_event')[idx]} ns is not a multiple of the "
            f"{step // NS_PER_S} s bucket taken from the file name or meta; pass --mapping "
            "with the right interval_s",
            path=path,
            line=int(df.get_column(LINE)[idx]),
            field="timestamp",
        )


def _load(path: Path, progress: Progress | None) -> pl.DataFrame:
    data = read_bytes(path)
    df = read_csv_strings(data, path)
    if progress is not None:
        progress(len(data))
    return df


def _user_mapping(hints: Hints) -> Mapping | None:
    return load_mapping(hints.mapping) if hints.mapping is not None else None


class _VendorFormat:
    """Shared read path: a header-matched CSV mapped by a built-in or the user's mapping."""

    name = ""
    description = ""
    headers: tuple[tuple[str, ...], ...] = ()

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files whose header is exactly one this format knows."""
        return header(head) in self.headers

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse with ``--mapping`` when given, else with the built-in mapping."""
        user = _user_mapping(hints)  # a bad mapping is reported before the file is read
        df = _load(path, progress)
        parsed = Parsed(path=path, format=self.name)
        if user is not None:
            parsed.notes.append(f"mapped with {hints.mapping}")
            apply_mapping(df, user, path, parsed)
        else:
            self.builtin(df, path, parsed)
        if df.height == 0:
            parsed.notes.append("the file has a header but no rows")
        return parsed

    def builtin(self, df: pl.DataFrame, path: Path, parsed: Parsed) -> None:
        """Apply the built-in mapping (overridden per format)."""
        raise InputError(f"format {self.name} needs --mapping FILE", path=path)


class CoinglassLiquidations(_VendorFormat):
    """CoinGlass aggregated liquidation buckets (long/short USD per 1h or 30m)."""

    name = "coinglass-liquidations"
    description = "CoinGlass liquidation export (timestamp,datetime_utc,longUsd,shortUsd,totalUsd)"
    headers = (LIQ_HEADER,)

    def builtin(self, df: pl.DataFrame, path: Path, parsed: Parsed) -> None:
        """Fill the bucket length and venue set from the file, then map."""
        meta = read_meta(path, parsed)
        venues = _meta_get(meta, "exchangeList")
        if not isinstance(venues, str):
            venues = "unspecified"
            parsed.notes.append("the export does not name its venue set: venues='unspecified'")
        mapping = msgspec.structs.replace(
            COINGLASS_LIQUIDATIONS, interval_s=interval_s(path, meta), venues=venues
        )
        apply_mapping(df, check_mapping(mapping, self.name), path, parsed)
        _check_steps(parsed, LiquidationBucket, path)


class CoinglassRegime(_VendorFormat):
    """The 25-column regime merges: CoinGlass 1h, or the Binance-only 5m variant."""

    name = "coinglass-regime"
    description = "CoinGlass/Binance BTC regime merge (price, liquidations, funding, OI, CVD)"
    headers = (REGIME_HEADER,)

    def builtin(self, df: pl.DataFrame, path: Path, parsed: Parsed) -> None:
        """Pick the layout from the meta or file name, then map."""
        meta = read_meta(path, parsed)
        if _meta_get(meta, "symbol") == "BTCUSDT" or "_binance_" in _stem(path).lower():
            mapping = msgspec.structs.replace(BINANCE_REGIME_5M, interval_s=interval_s(path, meta))
            parsed.notes.append(
                "Binance-only regime file: liquidation columns are zeros written by the exporter "
                "(Binance has no public liquidation history) and oi_weight copies funding: skipped"
            )
        else:
            venues = _meta_get(meta, "exchangeList")
            mapping = msgspec.structs.replace(
                COINGLASS_REGIME,
                interval_s=interval_s(path, meta),
                venues=venues if isinstance(venues, str) else "unspecified",
            )
        parsed.notes.append("cvd_* columns skipped: cumulative volume delta is not a record type")
        apply_mapping(df, check_mapping(mapping, self.name), path, parsed)
        _check_steps(parsed, Bar, path)


def _fix_seeded_rows(df: pl.DataFrame, path: Path, parsed: Parsed) -> pl.DataFrame:
    """Give hand-seeded rows (sharing one commit time) their label time, which is UTC then.

    PROVENANCE.md: the first three rows were seeded by hand at the initial commit, so their
    ``sample_time_utc_approx`` is that commit time for all three, while their labels predate
    2025-04-06, when labels were still UTC. Without this the three values would sit at one
    instant, out of order with respect to their true sample times.
    """
    col = OKX_HEADER[0]
    dup = df.get_column(col).is_duplicated()
    if not dup.any():
        return df
    labels = df.get_column("label_original").filter(dup)
    lines = df.get_column(LINE).filter(dup)
    for label, line in zip(labels, lines, strict=True):
        if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?", label or "") or not (
            label < _OKX_LABELS_UTC_UNTIL
        ):
            raise ParseError(
                f"several rows share this sample time and the label {label!r} is not a UTC "
                f"label from before {_OKX_LABELS_UTC_UNTIL}: cannot tell when it was sampled",
                path=path,
                line=int(line),
                field=col,
            )
    iso = pl.col("label_original").str.replace(r"^(\S+) (\d\d:\d\d)$", "${1} ${2}:00")
    iso = iso.str.replace(" ", "T") + pl.lit("Z")
    parsed.notes.append(
        f"{int(dup.sum())} hand-seeded rows (lines {', '.join(str(n) for n in lines)}) share one "
        "commit time; their UTC label time was used instead"
    )
    return df.with_columns(pl.when(dup).then(iso).otherwise(pl.col(col)).alias(col))


def _check_basis(df: pl.DataFrame, path: Path, parsed: Parsed) -> None:
    spot = floats(df, "spot_price", path)
    perp = floats(df, "futures_price", path)
    basis = floats(df, "basis", path)
    # basis = (perp − spot) / spot × 100, in percent (PROVENANCE.md); derived, so only checked.
    off = ((perp - spot) / spot * 100.0 - basis).abs() > BASIS_TOLERANCE_PCT
    off = off.fill_null(value=False)
    if off.any():
        first = int(df.get_column(LINE).filter(off)[0])
        parsed.notes.append(
            f"{int(off.sum())} rows have a basis that differs from (perp − spot)/spot × 100 by "
            f"more than {BASIS_TOLERANCE_PCT} percentage points (first at line {first})"
        )


class OkxHourlyBasis(_VendorFormat):
    """OKX spot/perp price, funding and OI samples with a UTC sample time."""

    name = "okx-hourly-basis"
    description = "OKX BTC spot vs BTC-USD-SWAP hourly samples (sample_time_utc_approx, UTC)"
    headers = (OKX_HEADER, OKX_ORIGINAL_HEADER)

    def builtin(self, df: pl.DataFrame, path: Path, parsed: Parsed) -> None:
        """Refuse the non-UTC original; map the UTC file, verifying its basis."""
        if "date" in df.columns:
            # UnknownFormatError (an InputError): the file cannot be read without a hint, so a
            # folder import skips it with this reason, while naming it explicitly fails.
            raise UnknownFormatError(
                "the 'date' column of this file is NOT UTC: it is UTC until about 2025-04-06 "
                "and Asia/Almaty (UTC+5) after, so importing it as UTC would shift most rows by "
                "5 hours. Import okx_btc_spot_vs_swap_hourly_utc.csv (sample_time_utc_approx) "
                "instead, or pass --mapping FILE whose [time] declares the column's timezone",
                path=path,
            )
        require_columns(df, OKX_HEADER, path)
        df = _fix_seeded_rows(df, path, parsed)
        apply_mapping(df, OKX_HOURLY_BASIS, path, parsed)
        _check_basis(df, path, parsed)
        parsed.notes.append("cvd skipped: a 100-trade buy−sell proxy, not a record type")


class VendorCsv(_VendorFormat):
    """Any vendor CSV with the user's ``--mapping``; never detected automatically."""

    name = "vendor-csv"
    description = "any CSV mapped by --mapping FILE (TOML; see flushwatch.ingest.vendor_mapping)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Never claim a file: a generic CSV cannot be recognised safely."""
        return False


FORMATS: tuple[Format, ...] = (
    CoinglassLiquidations(),
    CoinglassRegime(),
    OkxHourlyBasis(),
    VendorCsv(),
)
