"""The Asset page's sections: the as-of picker, the report, the map and the cascade."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flushwatch.analytics.flushes import episode_note
from flushwatch.domain.numbers import flush_name
from flushwatch.domain.time import iso
from flushwatch.report import odds
from flushwatch.report.model import level_state
from flushwatch.report.wash_html import trade_prints_html
from flushwatch.web import charts
from flushwatch.web.layout import chart, esc, table

if TYPE_CHECKING:
    from flushwatch.analytics.results import FlushEvent
    from flushwatch.api import Cascade, LiqMap, Report

DAY_NS = 86_400 * 10**9
#: Quick links judge each recent flush this long after it ended (as the scorecard does).
JUDGE_AFTER_NS = DAY_NS
_RULE_STATE = {True: "FIRED", False: "not fired", None: "not available"}


def _minute(ts: int) -> str:
    return iso(ts)[:16]


def picker(asset: str, at: str | None, shock: str, rep: Report | None) -> str:
    """A form choosing the as-of time (and shock), with links to judge recent flushes."""
    value = (at or (rep.report.as_of if rep is not None else ""))[:16]
    links = [f"<a href='/asset/{esc(asset)}'>latest</a>"]
    if rep is not None:
        step = rep.report.window.step_s * 10**9
        for ev in rep.report.events[-6:]:
            when = _minute(ev.end_ts + step + JUDGE_AFTER_NS)
            q = urlencode({"at": when, "shock": shock})
            links.append(
                f"<a class='judge-link' href='/asset/{esc(asset)}?{esc(q)}'>"
                f"{esc(ev.kind.replace('_', ' '))} {esc(_minute(ev.start_ts)[:10])} (+1 d)</a>"
            )
    return (
        f"<form class='asof' method='get' action='/asset/{esc(asset)}'>"
        "<label>as of (UTC) <input type='datetime-local' name='at' id='at' "
        f"value='{esc(value)}'></label> "
        f"<label>shock <input name='shock' size='6' value='{esc(shock)}'></label> "
        "<button type='submit' id='show'>Show</button></form>"
        f"<p class='note'>Judge a flush: {' · '.join(links)}</p>"
    )


def _verdict(rep: Report) -> str:
    r = rep.report
    v = r.verdict
    if v is None:
        text = "in progress: no verdict yet" if r.in_progress else "no flush had ended: no verdict"
        return f"<p class='verdict' id='verdict' data-verdict=''>{esc(text)}</p>"
    out = (
        f"<p class='verdict' id='verdict' data-verdict='{esc(v.name)}'>"
        f"<b>{esc(v.name.replace('_', ' '))}</b> (confidence {v.confidence:.0%})</p>"
        "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in v.reasons) + "</ul>"
    )
    if v.missing_inputs:
        out += f"<p class='note'>Missing inputs: {esc(', '.join(v.missing_inputs))}</p>"
    if v.probabilities:
        rows = [[text, *cells] for text, cells in odds.rows(v.probabilities)]
        heads = ["outcome", *(f"within {h}" for h in odds.horizons(v.probabilities))]
        out += "<h3>What happens next (estimates)</h3>" + table(heads, rows, cls="odds")
        out += f"<p class='note'>{esc(odds.footnote(v.probabilities))}</p>"
    return out


_EVENT_HEAD = ("kind", "start (UTC)", "end (UTC)", "long liq", "short liq", "move", "OI drop",
               "found by")  # fmt: skip


def _event_row(e: FlushEvent) -> tuple[str, ...]:
    oi = "n/a" if e.oi_drop_quote_pct is None else f"{e.oi_drop_quote_pct:.1f}%"
    return (
        e.kind if e.episode_flush == 1 else f"{e.kind} (re-flare {e.episode_flush})",
        _minute(e.start_ts), _minute(e.end_ts), f"${(e.liq_long_usd or 0) / 1e6:,.1f}M",
        f"${(e.liq_short_usd or 0) / 1e6:,.1f}M", f"{e.move_pct:+.2f}%", oi, e.detected_by,
    )  # fmt: skip


def report_sections(rep: Report) -> list[str]:
    """Verdict, checklist, risk box, the chart, key levels, flushes found and inputs."""
    r = rep.report
    judged = "none confirmed ended by then"
    if r.focus is not None:
        f = r.focus
        judged = f"{flush_name(f.kind)} {_minute(f.start_ts)} → {_minute(f.end_ts)} UTC"
        if (note := episode_note(f)) is not None:
            judged += f" ({note})"
    running = ""
    if r.in_progress is not None:
        running = (
            f"<p><b>In progress</b> (not judged yet): {esc(r.in_progress.kind.replace('_', ' '))}"
            f" since {esc(_minute(r.in_progress.start_ts))} UTC</p>"
        )
    checklist = "".join(
        f"<tr><td>{esc(c.name)}</td><td class='{esc(c.signal)}'>{esc(c.state)}</td>"
        f"<td>{esc(c.sentence)}</td></tr>"
        for c in r.checklist
    )
    risk = table(
        ("rule", "state", "evidence"),
        [(x.name, _RULE_STATE[x.fired], "; ".join(x.evidence)) for x in r.risk_box],
        cls="risk",
    )
    levels = table(
        ("level", "price", "role", "state"),
        [
            (lv.kind.replace("_", " "), f"{lv.price:,.6g}", lv.role, level_state(lv))
            for lv in r.levels
        ],
    )
    events = table(_EVENT_HEAD, [_event_row(e) for e in r.events], cls="events")
    sources = table(("series", "source"), sorted(r.sources.items()))
    notes = "".join(f"<li>{esc(n)}</li>" for n in r.notes)
    return [
        f"<p>As of <b id='as-of'>{esc(r.as_of)}</b>: only what was knowable then is used "
        f"({esc(r.window.start)} → {esc(r.window.end)}, {r.window.bars} bars of "
        f"{r.window.step_s // 60} min).</p>",
        f"<p><b>Judged flush</b>: {esc(judged)}</p>{running}",
        "<h2>Verdict</h2>" + _verdict(rep),
        "<h2>Checklist</h2><table class='checklist'><thead><tr><th>item</th><th>state</th>"
        f"<th>evidence</th></tr></thead><tbody>{checklist}</tbody></table>",
        "<h2>Risk box</h2>" + risk,
        "<h2>Charts</h2><p class='note'>Opened on the judged flush (orange); drag or "
        "double-click to see the whole window.</p>"
        + chart(charts.report_figure(rep), "report-chart"),
        "<h2>Key levels</h2>" + levels,
        "<h2>Flushes found</h2>" + events,
        trade_prints_html(rep.report.trade_prints),
        "<h2>Inputs</h2>" + sources + (f"<ul>{notes}</ul>" if notes else ""),
    ]


def map_section(liq_map: LiqMap) -> str:
    """The heatmap, "map now" and "if price reaches X", with the bands near price."""
    doc = liq_map.to_dict()
    bands = [
        (side, f"{b['lo']:,.6g}", f"{b['hi']:,.6g}", f"{b['distance_pct']:.1f}%",
         f"${b['notional_usd'] / 1e6:,.2f}M")
        for side in ("long", "short")
        for b in doc["bands"][side][:6]
    ]  # fmt: skip
    return (
        f"<p>Price {doc['price']:,.6g} as of {esc(doc['as_of'])}. Every number is an "
        "<b>estimate</b>; stop clusters are a heuristic, kept apart.</p>"
        + chart(charts.map_figure(liq_map), "map-chart")
        + table(("side", "from", "to", "distance", "estimated USD"), bands, cls="bands")
    )


def cascade_section(casc: Cascade) -> str:
    """The headline numbers and the curve, path and gain bands."""
    r = casc.result
    head = (
        f"A {r.shock_move_pct:+.2f}% shock ends at {r.final_move_pct:+.2f}% (amplification "
        f"×{r.amplification:.2f}); {r.liquidated_usd:,.0f} USD liquidated in {r.steps} steps"
        + (
            " — past the end of the known book: the move is at least this"
            if r.book_exhausted
            else ""
        )
    )
    notes = [f"Depth: {casc.depth_source} ({casc.depth_note})", f"Map: {casc.map_note}"]
    if casc.venue_note:
        notes.append(f"Venues: {casc.venue_note}")
    return (
        f"<p id='cascade-head'>{esc(head)}</p><ul>"
        + "".join(f"<li>{esc(n)}</li>" for n in notes)
        + "</ul>"
        + chart(charts.cascade_figure(casc), "cascade-chart")
    )
