"""Built-in column mappings for the vendor exports flushwatch knows, with the evidence for each.

They are ordinary :class:`~flushwatch.ingest.vendor_mapping.Mapping` values; the formats in
:mod:`flushwatch.ingest.vendor_csv` fill in what only the file can say (bucket length, the
venue set from the ``*.meta.json`` beside it). Any of them can be replaced with ``--mapping``.

``COINGLASS_LIQUIDATIONS`` — ``btc_liquidation_<1h|30m>_*.csv`` (CoinGlass
``/api/futures/liquidation/aggregated-history``): ``timestamp`` ms = bucket start;
``longUsd``/``shortUsd`` → :class:`LiquidationBucket` (exchange ``coinglass``, perp, ``BTC``);
``totalUsd`` must equal long + short; ``datetime_utc`` is a redundant copy of the time.

``COINGLASS_REGIME`` — ``btc_regime_1h_*.csv``, a merge of several sources made by the
exporter's script (ismethanhtung/btc-liquidations-analysis,
``scripts/export-coinglass-btc-regime-dataset.mjs``, commit c8a97300):

* ``price_*``: Binance *spot* BTCUSDT klines (``api.binance.com/api/v3/klines``, no volume kept)
  → Bar, exchange ``binance``, spot, ``BTCUSDT``, price_kind trade.
* ``liquidation_*``: CoinGlass aggregated liquidations for the meta's ``exchangeList``
  → LiquidationBucket ``coinglass``/``BTC``.
* ``funding_*``: CoinGlass ``funding-rate/history`` for exchange=Binance symbol=BTCUSDT, in
  *percent* per 8 h (0.01 = 0.01 %: the file sits at exactly 0.01, Binance's default interest
  rate of 0.01 %/8 h, and at 2026-02-06 16:00 it reads −0.013478 where Binance printed
  −0.0137 %; PROVENANCE.md) → Funding ``coinglass``/``BTCUSDT-Binance`` (not settled).
* ``oi_*``: CoinGlass ``open-interest/history`` for Binance BTCUSDT in USD (the script asks for
  exchange=Binance only, *not* the three-venue aggregate; ≈ $8 B matches Binance alone)
  → OpenInterest ``coinglass``/``BTCUSDT-Binance`` oi_quote.
* ``oi_weight_*``: CoinGlass ``funding-rate/oi-weight-history`` for BTC across venues, percent
  → Funding ``coinglass``/``BTC`` (the vendor's OI-weighted aggregate, interval unknown).
* ``cvd_*``: aggregated CVD, all zero in this file and not a record type: skipped.

Per-venue series seen *through* CoinGlass keep ``coinglass`` as exchange and name the venue in
the symbol as ``<pair>-<venue>`` (``BTCUSDT-Binance``, which
:func:`flushwatch.domain.symbols.base_asset` still reads as BTC), so they never mix with the
venue's own data in one series (vendors and venues disagree, DOMAIN.md C13). Funding and OI
use the ``*_open`` column: an OHLC row is stamped at its start and the open is the value
observed then (each open equals the previous close); the close stamped at the start would
shift the series one bucket early.

``BINANCE_REGIME_5M`` — ``btc_regime_binance_5m_*.csv``: same header, but despite the
``coinglass_`` prefix of its original name every column comes from Binance USD-M public REST
(``scripts/fetch-binance-btc-regime-dataset.mjs``): ``price_*`` = ``/fapi/v1/klines`` BTCUSDT
→ Bar ``binanceusdm``/perp/``BTCUSDT``; ``funding_*`` = the last *settled* ``/fapi/v1/fundingRate``
forward-filled (a fraction) → one settled Funding per change at its 8 h boundary; ``oi_*`` =
``/futures/data/openInterestHist`` ``sumOpenInterestValue`` (USD; the previous value is repeated
where Binance had none) → OpenInterest oi_quote. ``liquidation_*`` are hard-coded zeros (Binance
has no public liquidation history, DOMAIN.md C2) and ``oi_weight_*`` copies the funding rate:
both skipped.

``OKX_HOURLY_BASIS`` — ``okx_btc_spot_vs_swap_hourly_utc.csv`` (OKX REST polled hourly):
time = ``sample_time_utc_approx`` (UTC; ``label_original`` is *not* UTC); ``spot_price`` →
MarkPrice last_price ``okx``/spot/``BTC-USDT``; ``futures_price`` → MarkPrice last_price
``okx``/perp/``BTC-USD-SWAP``; ``funding_rate`` (fraction, current period) → Funding not settled;
``open_interest`` (contracts of 100 USD) → oi_quote = contracts × 100, oi_base = oi_quote / perp
price. ``basis`` is derived and only verified; ``cvd`` is skipped.
"""

from __future__ import annotations

from flushwatch.domain.enums import Margin, Market
from flushwatch.ingest.vendor_mapping import (
    BarSpec,
    FundingSpec,
    InstrumentSpec,
    LiquidationSpec,
    Mapping,
    OpenInterestSpec,
    PriceSpec,
    TimeSpec,
)

_OHLC = ("open", "high", "low", "close")

COINGLASS_LIQUIDATIONS = Mapping(
    description="CoinGlass aggregated BTC liquidations",
    time=TimeSpec(column="timestamp", unit="ms"),
    exchange="coinglass",
    market=Market.PERP,
    symbol="BTC",
    liquidations=(LiquidationSpec(long_usd="longUsd", short_usd="shortUsd", total_usd="totalUsd"),),
    skip=("datetime_utc",),
)

# Binance spot BTCUSDT: quantities in BTC, no contracts (ccxt unified "BTC/USDT").
_BINANCE_SPOT = InstrumentSpec(
    exchange="binance",
    market=Market.SPOT,
    symbol="BTCUSDT",
    unified="BTC/USDT",
    base="BTC",
    quote="USDT",
)

COINGLASS_REGIME = Mapping(
    description="CoinGlass BTC regime merge (Binance spot price, CoinGlass liq/funding/OI)",
    time=TimeSpec(column="timestamp", unit="ms"),
    exchange="coinglass",
    market=Market.PERP,
    symbol="BTC",
    bars=(
        BarSpec(
            exchange="binance",
            market=Market.SPOT,
            symbol="BTCUSDT",
            open="price_open",
            high="price_high",
            low="price_low",
            close="price_close",
        ),
    ),
    liquidations=(
        LiquidationSpec(
            long_usd="liquidation_long_usd",
            short_usd="liquidation_short_usd",
            total_usd="liquidation_total_usd",
        ),
    ),
    funding=(
        FundingSpec(
            symbol="BTCUSDT-Binance", rate="funding_open", unit="percent", interval_hours=8
        ),
        FundingSpec(rate="oi_weight_open", unit="percent"),
    ),
    open_interest=(OpenInterestSpec(symbol="BTCUSDT-Binance", quote="oi_open"),),
    instruments=(_BINANCE_SPOT,),
    skip=(
        "datetime_utc",
        *(f"{m}_{p}" for m in ("funding", "oi", "oi_weight") for p in _OHLC[1:]),
        *(f"cvd_{p}" for p in _OHLC),
    ),
)

BINANCE_REGIME_5M = Mapping(
    description="Binance USD-M BTCUSDT 5m merge (klines, settled funding, OI history)",
    time=TimeSpec(column="timestamp", unit="ms"),
    exchange="binanceusdm",
    market=Market.PERP,
    symbol="BTCUSDT",
    interval_s=300,
    bars=(BarSpec(open="price_open", high="price_high", low="price_low", close="price_close"),),
    funding=(
        # Binance BTCUSDT settles every 8 h (00/08/16 UTC); /fapi/v1/fundingRate returns
        # settled fractions (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Get-Funding-Rate-History).
        FundingSpec(
            rate="funding_close",
            unit="fraction",
            is_settled=True,
            interval_hours=8,
            settle_every_s=8 * 3600,
        ),
    ),
    open_interest=(OpenInterestSpec(quote="oi_close"),),
    instruments=(
        # Binance USD-M linear perp: quantity in BTC, contract size 1 (ccxt markets).
        InstrumentSpec(
            unified="BTC/USDT:USDT",
            base="BTC",
            quote="USDT",
            settle="USDT",
            margin=Margin.LINEAR,
        ),
    ),
    skip=(
        "datetime_utc",
        *(f"{m}_{p}" for m in ("liquidation",) for p in ("long_usd", "short_usd", "total_usd")),
        *(f"{m}_{p}" for m in ("funding", "oi") for p in _OHLC[:3]),
        *(f"{m}_{p}" for m in ("oi_weight", "cvd") for p in _OHLC),
    ),
)

OKX_HOURLY_BASIS = Mapping(
    description="OKX BTC spot vs BTC-USD-SWAP hourly samples",
    time=TimeSpec(column="sample_time_utc_approx", format="%Y-%m-%dT%H:%M:%SZ"),
    exchange="okx",
    market=Market.PERP,
    symbol="BTC-USD-SWAP",
    prices=(
        PriceSpec(market=Market.SPOT, symbol="BTC-USDT", last_price="spot_price"),
        PriceSpec(last_price="futures_price"),
    ),
    funding=(
        # /api/v5/public/funding-rate fundingRate: the current period's rate, a fraction;
        # BTC-USD-SWAP funds three times a day (https://www.okx.com/help/7053456733325).
        FundingSpec(rate="funding_rate", unit="fraction", is_settled=False, interval_hours=8),
    ),
    open_interest=(
        # /api/v5/public/open-interest "oi" is in contracts; BTC-USD-SWAP is inverse with a
        # contract size of 100 USD (https://www.okx.com/help/7053456733325, ctVal=100 USD).
        OpenInterestSpec(
            contracts="open_interest", quote_per_contract=100.0, price="futures_price"
        ),
    ),
    instruments=(
        InstrumentSpec(
            market=Market.SPOT, symbol="BTC-USDT", unified="BTC/USDT", base="BTC", quote="USDT"
        ),
        InstrumentSpec(
            unified="BTC/USD:BTC",
            base="BTC",
            quote="USD",
            settle="BTC",
            margin=Margin.INVERSE,
            contract_size=100.0,  # USD per contract (same source as open_interest above)
        ),
    ),
    skip=("label_original", "basis", "cvd"),
)
