"""``flushwatch watch``: a live terminal view of the flush state, with alerts.

Composition only: the venue connector yields frames and feed events, a
:class:`~flushwatch.live.state.LiveMonitor` decodes them (the importers' decoders) into
per-symbol :class:`~flushwatch.live.state.LiveState`, alert rules run on each refresh and the
dispatcher sends what is new. With ``--store`` holding OI history, the estimated liquidation
map and cascade gain profiles are computed once at start (as of the store's last bar; they
do not move with the live price) and shown as the nearest bands.

With ``--store`` each watched market is also primed with the store's last ``--prime-hours``
of bars, OI, funding and liquidations (assembled exactly as the report does), so detection,
key levels and the checklist have context at start-up; the view says how much. The view shows
the nearest key levels with their state, and the checklist reads BTC's and ETH's levels when
they are watched (``--symbols BTCUSDT --symbols ETHUSDT ...``).

The watched venue's connector also keeps each symbol's order book from ``--book-stream``
(diff depth, sequence-checked, resynced on a gap); every bar close samples its bid depth
within 1 % of mid and its spread for the checklist's ``book`` item, and the view shows both
sides' depth and the spread now. While a book resyncs, or with ``--book-stream none``, they
are "not available", never an old value.

Rich is imported inside functions so that ``flushwatch --help`` stays light.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from flushwatch.cli.options import STORE_HINT, check_folder
from flushwatch.domain.time import iso
from flushwatch.errors import ConfigError, FlushwatchError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from flushwatch.alerts.config import AlertsConfig
    from flushwatch.alerts.dispatch import Delivery
    from flushwatch.alerts.hourly import HourlyOdds
    from flushwatch.alerts.rules import Alert
    from flushwatch.alerts.sinks import AlertSink
    from flushwatch.analytics.cascade_gain import GainProfile
    from flushwatch.analytics.market import MarketSeries
    from flushwatch.analytics.results import CheckItem
    from flushwatch.live.state import LiveMonitor, LiveParams, LiveSnapshot
    from flushwatch.store import Store

REFRESH_S = 1.0
NS = 1_000_000_000


@dataclass(frozen=True)
class WatchResult:
    """What a watch ended with: every alert raised, and every delivery that failed for good."""

    alerts: list[Alert]
    failures: list[Delivery]


class Band(msgspec.Struct, frozen=True, kw_only=True):
    """A price bin of the estimated liquidation map near the current price."""

    side: str  # "long" (below price) or "short" (above)
    price_lo: float
    price_hi: float
    usd: float


def _usd(x: float | None) -> str:
    if x is None:
        return "—"
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.2f}{suf}"
    return f"${x:,.0f}"


def _num(x: float | None, fmt: str = ",.2f") -> str:
    return "—" if x is None else format(x, fmt)


def _pct(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x * 100:+.{digits}f}%"


def _book_rows(s: LiveSnapshot) -> list[tuple[str, str]]:
    """Depth within ±1 % of mid and the spread now, or why they are not available."""
    spread = "—" if s.spread_bps is None else f"{s.spread_bps:.3g} bps"
    if s.book_state == "in_sync":
        depth = f"{_usd(s.depth_bid_1pct)} / {_usd(s.depth_ask_1pct)}"
        return [("depth ±1% bid / ask", depth), ("spread", spread)]
    why = {
        "resyncing": "book resyncing: not available",
        "quotes": "no book kept: not available",
        "none": "no book kept: not available",
    }[s.book_state]
    if s.book_state == "quotes":
        spread += " (last quote)"
    elif s.book_state == "resyncing":
        spread = "book resyncing: not available"
    return [("depth ±1% bid / ask", why), ("spread", spread)]


def _market_table(s: LiveSnapshot) -> RenderableType:
    from rich.table import Table

    t = Table(title=f"{s.symbol}  {iso(s.ts) if s.ts else ''}", show_header=False, expand=False)
    t.add_column("metric", style="bold")
    t.add_column("value", justify="right")
    floor = " (floor: throttled feed)" if s.liq_hour.lower_bound else ""
    rows = [
        ("last / spot", f"{_num(s.last_price)} / {_num(s.spot_price)}"),
        ("mark / index", f"{_num(s.mark_price)} / {_num(s.index_price)}"),
        ("basis", _pct(s.basis)),
        ("funding", _pct(s.funding_rate)),
        ("open interest", f"{_num(s.oi_base, ',.0f')} coins, {_usd(s.oi_quote)}"),
        (
            f"volume {s.volume_window_min}m perp / spot",
            f"{_usd(s.perp_volume_quote)} / {_usd(s.spot_volume_quote)}"
            + (
                f" (spot {s.spot_volume_quote / s.perp_volume_quote:.2f}×)"
                if s.perp_volume_quote > 0
                else ""
            ),
        ),
        (
            f"liq this hour{floor}",
            f"longs {_usd(s.liq_hour.long_usd)}, shorts {_usd(s.liq_hour.short_usd)}",
        ),
    ]
    rows += [
        (f"liq {w.label}", f"longs {_usd(w.long_usd)}, shorts {_usd(w.short_usd)} ({w.count})")
        for w in s.liq_windows
    ]
    rows += _book_rows(s)
    rows.append(("bars / flushes", f"{s.bars_closed} closed, {len(s.events)} detected"))
    history = "live only"
    if s.history_bars:
        history = f"primed with {s.history_hours:.1f} h from the store ({s.history_source})"
    rows.append(("history", history))
    for name, value in rows:
        t.add_row(name, value)
    return t


def _liq_table(s: LiveSnapshot) -> RenderableType:
    from rich.table import Table

    t = Table(title="recent liquidations", expand=False)
    for col in ("time", "side", "price", "size", "USD"):
        t.add_column(col, justify="right" if col != "side" else "left")
    for liq in s.recent_liqs[:10]:
        style = "red" if liq.side == "long" else "green"
        t.add_row(
            iso(liq.ts_event)[11:19],
            f"[{style}]{liq.side}[/]",
            _num(liq.avg_price or liq.price),
            f"{liq.qty:,.4g}",
            _usd(liq.notional),
        )
    if not s.recent_liqs:
        t.add_row("—", "none yet", "", "", "")
    return t


def _levels_table(s: LiveSnapshot) -> RenderableType:
    from rich.table import Table

    from flushwatch.live.levels_live import REFERENCE_ASSETS, nearest_levels

    price = s.last_price if s.last_price is not None else s.last_close
    below, above = nearest_levels(s.levels, price)
    missing = [a for a in REFERENCE_ASSETS if a not in s.references]
    caption = f"{', '.join(missing)} not watched: not available" if missing else None
    t = Table(title="key levels (nearest)", caption=caption, expand=False)
    for col in ("side", "price", "kind", "role", "state"):
        t.add_column(col)
    for side, levels in (("above", list(reversed(above))), ("below", below)):
        for lv in levels:
            kind = lv.kind.replace("_", " ")
            t.add_row(side, _num(lv.price, ",.6g"), kind, lv.role, lv.state.replace("_", " "))
    if not s.levels:
        t.add_row("—", "no levels yet", "", "", "")
    return t


def _checklist_table(items: Sequence[CheckItem], s: LiveSnapshot) -> RenderableType:
    from rich.table import Table

    t = Table(title="checklist (latest flush)", expand=False)
    t.add_column("item")
    t.add_column("state")
    t.add_column("signal")
    colour = {"good": "green", "bad": "red", "neutral": "yellow", "unknown": "dim"}
    for item in items:
        t.add_row(item.name, item.state, f"[{colour[item.signal]}]{item.signal}[/]")
    for rule in s.risk:
        fired = {True: "[red]FIRED[/]", False: "ok", None: "n/a"}[rule.fired]
        t.add_row(rule.name, "risk box", fired)
    if not items:
        t.add_row("no flush detected", "—", "—")
    return t


def nearest_bands(
    edges: Any, long: Any, short: Any, price: float, n: int = 3, min_share: float = 0.0
) -> list[Band]:
    """The ``n`` nearest map bins with liquidation mass below (longs) and above (shorts)."""
    out: list[Band] = []
    total = float(sum(long) + sum(short)) or 1.0
    for side, mass, below in (("long", long, True), ("short", short, False)):
        idx = [i for i in range(len(mass)) if mass[i] > min_share * total]
        idx = [i for i in idx if (edges[i + 1] <= price if below else edges[i] >= price)]
        idx.sort(key=lambda i: abs((edges[i] + edges[i + 1]) / 2 - price))
        out += [
            Band(
                side=side,
                price_lo=float(edges[i]),
                price_hi=float(edges[i + 1]),
                usd=float(mass[i]),
            )
            for i in idx[:n]
        ]
    return out


def render_view(
    snapshots: Sequence[LiveSnapshot],
    *,
    bands: dict[str, list[Band]] | None = None,
    alerts: Sequence[Alert] = (),
    notes: Sequence[str] = (),
) -> RenderableType:
    """The whole screen: per market its numbers, liquidations, bands, levels and checklist."""
    from rich.columns import Columns
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = []
    for s in snapshots:
        row: list[RenderableType] = [_market_table(s), _liq_table(s)]
        if bands and bands.get(s.symbol):
            bt = Table(title="nearest liquidation bands (estimate)", expand=False)
            for col in ("side", "from", "to", "USD"):
                bt.add_column(col)
            for b in bands[s.symbol]:
                bt.add_row(b.side, _num(b.price_lo), _num(b.price_hi), _usd(b.usd))
            row.append(bt)
        row += [_levels_table(s), _checklist_table(s.checklist, s)]
        parts.append(Columns(row))
    parts += [Text(note, style="yellow") for note in notes]
    stale = {st.stream: st for s in snapshots for st in s.stale}
    for st in stale.values():
        parts.append(Text(f"STALE {st.stream} since {iso(st.since)}: {st.reason}", style="red"))
    errors = max((s.decode_errors for s in snapshots), default=0)
    if errors:
        parts.append(Text(f"{errors} frames could not be decoded (kept in the recording)"))
    for a in list(alerts)[-5:]:
        parts.append(Text(f"[{iso(a.ts)}] ALERT {a.title}", style="bold magenta"))
    return Group(*parts)


def build_monitor(
    built: Sequence[tuple[str, Any]], symbols: list[str], params: LiveParams
) -> LiveMonitor:
    """The monitor of ``watch``: decoders routed per connector, the venue's books wired in."""
    from flushwatch.cli.watch_venues import book_sources, spot_symbol, url_prefixes
    from flushwatch.live.state import FeedLiveness, FrameDecoder, LiveMonitor, LiveState

    venue, main = built[0]
    prefixes: dict[str, str] = {}
    for v, conn in built:
        prefixes.update(url_prefixes(v, conn))
    states = [LiveState(s, params, spot_symbol=spot_symbol(venue, s)) for s in symbols]
    decoder = FrameDecoder(prefixes)

    def okx_size(inst: str) -> float | None:
        """OKX contract value from the instruments body the decoder learned (None: unknown)."""
        from flushwatch.venues.okx.decode import OkxDecoder

        for dec in decoder.decoders():
            if isinstance(dec, OkxDecoder):
                found = dec.terms(inst)
                return None if found is None else found.size
        return None

    books = book_sources(venue, main, okx_size)
    return LiveMonitor(states, decoder, FeedLiveness(), books=books)


def _store_extras(
    store: Store | None, symbols: list[str]
) -> tuple[dict[str, list[Band]], dict[str, list[GainProfile]]]:
    """Nearest bands and gain profiles from the store's OI history, when it has some."""
    bands: dict[str, list[Band]] = {}
    gains: dict[str, list[GainProfile]] = {}
    if store is None:
        return bands, gains
    from flushwatch.api.live import map_and_gains
    from flushwatch.domain.symbols import base_asset

    for sym in symbols:
        try:
            mp, gains[sym] = map_and_gains(store, base_asset(sym))
            bands[sym] = nearest_bands(mp.edges, mp.long, mp.short, mp.price)
        except FlushwatchError:
            continue  # no OI history for this symbol: the view simply has no bands
    return bands, gains


def _history(
    store: Store, asset: str, venue: str | None, start: int, end: int, bar_s: int
) -> MarketSeries | None:
    """The store's series for ``asset`` in ``[start, end)``: the venue's own bars first."""
    from flushwatch.api.live import history

    return history(store, asset, venue, start, end, bar_s)


def prime_from_store(
    store: Store,
    monitor: LiveMonitor,
    *,
    hours: float,
    until_ns: int,
    venue: str | None = None,
) -> list[str]:
    """Prime every watched market with the store's ``hours`` before ``until_ns``.

    The series are assembled as the report assembles them (``report.assemble``), on the live
    bar size, ending at the bar that contains ``until_ns`` (excluded: live records fill it).
    Returns a note per market that could not be primed, saying why; then runs the kernels
    once, so the view starts with detection, levels and the checklist.
    """
    notes: list[str] = []
    for sym, state in monitor.states.items():
        bar_ns = state.p.bar_s * NS
        end = until_ns - until_ns % bar_ns
        start = end - int(hours * 3600 * NS) // bar_ns * bar_ns
        m = _history(store, state.asset, venue, start, end, state.p.bar_s)
        if m is None:
            notes.append(
                f"{sym}: no {state.asset} bars in the store in the {hours:g} h before "
                f"{iso(end)}: not primed"
            )
        elif m.step_s != state.p.bar_s:
            notes.append(
                f"{sym}: the store's {state.asset} bars are {m.step_s}s, the live bars "
                f"{state.p.bar_s}s: not primed (bars are never split)"
            )
        else:
            state.prime(m, m.sources["price"])
    monitor.run_pending()
    return notes


async def _merged(connectors: Sequence[Any], queue: asyncio.Queue[Any]) -> None:
    async def pump(conn: Any) -> None:
        async for item in conn.frames():
            await queue.put(item)

    async with asyncio.TaskGroup() as tg:
        for conn in connectors:
            tg.create_task(pump(conn))


async def run_watch(
    connectors: Sequence[Any],
    monitor: LiveMonitor,
    rules: AlertsConfig,
    *,
    console: Console,
    duration: float | None,
    silence_s: float,
    bands: dict[str, list[Band]] | None = None,
    gains: dict[str, list[GainProfile]] | None = None,
    write: Callable[[str], object] | None = None,
    stop_when: Callable[[list[Alert]], bool] | None = None,
    notes: Sequence[str] = (),
    on_failure: Callable[[Delivery], object] | None = None,
    extra_sinks: Sequence[AlertSink] = (),
    odds: HourlyOdds | None = None,
) -> WatchResult:
    """Feed the monitor from every connector, refresh the view and send alerts each second.

    Refreshing on a timer, not on frames, is what lets a silent feed raise its stale alert.
    ``write`` replaces the console for terminal alerts; ``stop_when`` ends the watch early
    (checked after each refresh with the alerts raised so far); ``notes`` are shown under the
    view (e.g. why a market was not primed). A delivery that failed for good (after its
    retries) goes to ``on_failure`` as it happens (default: one red line on the console).
    ``extra_sinks`` receive every alert beside the configured ones (``<store>/alerts.jsonl``).
    ``odds`` evaluates the probability rules on the store's report at each closed hour.
    Returns every alert raised (before de-duplication) and every failed delivery.
    """
    from rich.live import Live

    from flushwatch.alerts.dispatch import Dispatcher
    from flushwatch.alerts.rules import evaluate
    from flushwatch.alerts.sinks import open_sinks

    raised: list[Alert] = []
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=10_000)
    stop = None if duration is None else time.monotonic() + duration
    async with contextlib.AsyncExitStack() as stack:
        sinks = await stack.enter_async_context(
            open_sinks(rules.sinks, write or (lambda x: console.print(x.rstrip(), markup=False)))
        )
        sinks = [*sinks, *extra_sinks]
        for conn in connectors:
            await stack.enter_async_context(conn)
        repeat = {r.name: r.repeat_after_s for r in rules.rules}
        report = on_failure or (lambda d: console.print(d.describe(), markup=False, style="red"))
        dispatcher = Dispatcher(sinks, repeat_after_s=repeat, on_failure=report)
        feeder = asyncio.create_task(_merged(connectors, queue))
        pending: set[asyncio.Task[Any]] = set()
        live = stack.enter_context(Live(console=console, auto_refresh=False))
        try:
            next_refresh = time.monotonic()
            while stop is None or time.monotonic() < stop:
                if feeder.done():
                    feeder.result()  # a connector failed for good: surface its error
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=REFRESH_S / 4)
                except TimeoutError:
                    item = None
                if item is not None:
                    monitor.on_item(item)
                    url = getattr(item, "url", None)
                    if url is not None:
                        monitor.liveness.expect(url, silence_s, time.time_ns(), if_new=True)
                if time.monotonic() < next_refresh:
                    continue
                next_refresh = time.monotonic() + REFRESH_S
                snaps = monitor.snapshots(time.time_ns())
                alerts = [a for s in snaps for a in evaluate(rules.rules, s, gains)]
                if odds is not None:
                    alerts += await odds.poll(time.time_ns())
                if alerts:
                    raised += alerts
                    task = asyncio.create_task(dispatcher.dispatch(alerts))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                unique = list({a.key: a for a in raised}.values())
                shown = [*notes, *(odds.notes if odds is not None else [])]
                view = render_view(snaps, bands=bands, alerts=unique, notes=shown)
                live.update(view, refresh=True)
                if stop_when is not None and stop_when(raised):
                    break
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            if pending:
                await asyncio.wait(pending, timeout=30.0)
    return WatchResult(alerts=raised, failures=list(dispatcher.failures))


async def _watch(
    venue: str,
    symbols: list[str],
    alerts_path: Path | None,
    store_path: Path | None,
    config: Path | None,
    duration: float | None,
    spot: bool,
    prime_hours: float | None = None,
    book_stream: str | None = None,
) -> WatchResult:
    from rich.console import Console

    from flushwatch.alerts.config import AlertsConfig, load_alerts
    from flushwatch.alerts.hourly import HourlyOdds, store_reports
    from flushwatch.alerts.jsonl import JsonlFile, store_alerts
    from flushwatch.cli.watch_venues import book_stream_for, build_connectors
    from flushwatch.live.state import LiveParams
    from flushwatch.store import Store

    rules = load_alerts(alerts_path) if alerts_path else AlertsConfig(rules=(), sinks=())
    book = book_stream_for(venue, book_stream)
    built = build_connectors(venue, symbols, config, spot=spot, book_stream=book)
    windows = tuple(sorted({5, 15, 60, *rules.windows_min()}))
    params = LiveParams(liq_windows_min=windows)
    hours = params.history_bars * params.bar_s / 3600 if prime_hours is None else prime_hours
    if hours < 0:
        raise ConfigError(f"--prime-hours {hours:g}: must be 0 (no priming) or more")
    if store_path is not None and hours > 0:  # the ring holds at least what was primed
        ring = max(params.history_bars, -(-int(hours * 3600) // params.bar_s))
        params = LiveParams(liq_windows_min=windows, history_bars=ring)
    monitor = build_monitor(built, symbols, params)
    intervals = getattr(built[0][1].config, "expected_interval", None) or {}
    silence_s = max(intervals.values(), default=60.0)
    store = Store.open(store_path, create=False) if store_path is not None else None
    notes: list[str] = []
    if store is not None and hours > 0:
        notes = prime_from_store(store, monitor, hours=hours, until_ns=time.time_ns(), venue=venue)
    bands, gains = _store_extras(store, symbols)
    # With a store, alerts also go to <store>/alerts.jsonl: the dashboard's Live page tails it.
    extra = [] if store_path is None else [JsonlFile(store_alerts(store_path))]
    odds = None
    if rules.probability_rules():
        if store_path is None:
            raise ConfigError(
                "probability alert rules need --store: their odds come from the store's report"
            )
        odds = HourlyOdds(rules.probability_rules(), symbols, store_reports(store_path))
    return await run_watch(
        [c for _, c in built],
        monitor,
        rules,
        console=Console(),
        extra_sinks=extra,
        duration=duration,
        silence_s=silence_s,
        bands=bands,
        gains=gains,
        notes=notes,
        odds=odds,
    )


def register(app: typer.Typer) -> None:
    """Add ``flushwatch watch`` to the app."""

    @app.command("watch")
    def watch(
        venue: Annotated[
            str,
            typer.Option(
                help="Venue: binanceusdm, binancecoinm, bybit, okx (native), or ccxt:<id>."
            ),
        ] = "binanceusdm",
        symbols: Annotated[
            list[str], typer.Option("--symbols", help="Venue symbols to watch (repeatable).")
        ] = ["BTCUSDT"],  # noqa: B006 - typer needs a list default
        alerts: Annotated[
            Path | None, typer.Option("--alerts", help="Alert rules TOML file.")
        ] = None,
        store: Annotated[
            Path | None,
            typer.Option(
                "--store",
                help="Store to prime the markets from (bars, OI, funding, liquidations) and "
                "with OI history for liquidation bands.",
            ),
        ] = None,
        prime_hours: Annotated[
            float | None,
            typer.Option(
                "--prime-hours",
                help="Hours of store history to prime with (default: the live ring, 8 h; 0: none).",
            ),
        ] = None,
        config: Annotated[
            Path | None, typer.Option("--config", help="Connector endpoints TOML file.")
        ] = None,
        duration: Annotated[
            float | None, typer.Option("--duration", help="Stop after this many seconds.")
        ] = None,
        spot: Annotated[
            bool,
            typer.Option(
                "--spot/--no-spot",
                help="Also stream the venue's spot trades (spot vs perp volume, basis).",
            ),
        ] = True,
        book_stream: Annotated[
            str | None,
            typer.Option(
                "--book-stream",
                help="Book stream kept with sequence checks for depth ±1% and spread "
                "(default: the venue's, e.g. depth@100ms, orderbook.200, books; 'none': no "
                "book, depth is then not available).",
            ),
        ] = None,
    ) -> None:
        """Watch liquidations, OI, funding, basis and the flush checklist live, with alerts.

        The defaults are the venues' public production endpoints (no API key): Binance
        wss://fstream.binance.com (USDⓈ-M, with its spot market on
        wss://stream.binance.com:9443), Bybit wss://stream.bybit.com, OKX
        wss://ws.okx.com:8443. --config FILE overrides them per venue (`flushwatch config
        venue` prints that file); --alerts FILE sets the rules (`flushwatch config alerts`).

        Exits 1 when any alert could not be delivered to a sink (each failure is printed
        as it happens), 2 on a configuration or connection error.

        \b
        Example, the real Binance USDⓈ-M BTC feed, primed from your store, with alerts:
          flushwatch watch --venue binanceusdm --symbols BTCUSDT \\
            --store ./out/store --alerts alerts.toml
        """
        try:
            if store is not None:
                check_folder(store, "--store", STORE_HINT)
            result = asyncio.run(
                _watch(
                    venue, symbols, alerts, store, config, duration, spot, prime_hours, book_stream
                )
            )
        except FlushwatchError as exc:
            from flushwatch.redact import redact_text

            typer.echo(f"error: {redact_text(str(exc))}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
        if result.failures:
            n = len(result.failures)
            typer.echo(f"error: {n} alert deliver{'y' if n == 1 else 'ies'} failed", err=True)
            raise typer.Exit(1)
