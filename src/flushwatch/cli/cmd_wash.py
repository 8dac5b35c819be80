"""``flushwatch wash``: wash-trading *suspicion* of one asset's trade prints, per venue.

Parsing and printing only: the tests are :meth:`flushwatch.api.Workspace.wash`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli.options import AtOpt, JsonOpt, StoreOpt, workspace
from flushwatch.cli.options import run as run_cli

if TYPE_CHECKING:
    from flushwatch.api.wash import WashReport


@contextlib.contextmanager
def _busy(quiet: bool) -> Iterator[None]:
    """A spinner on stderr while the prints are read and tested (hidden for --json)."""
    from flushwatch.cli.render import err_console

    if quiet or not err_console.is_terminal:
        yield
        return
    with err_console.status("testing trade prints"):
        yield


def run(
    store: Path | None,
    asset: str,
    *,
    at: str | None,
    window: str,
    venue: str | None,
    json_out: bool,
) -> None:
    """Ask the API for the assessment and print it."""
    from flushwatch.cli import render

    with _busy(json_out):
        result = workspace(store).wash(asset, at=at, window=window, venue=venue)
    if json_out:
        render.print_json(result.to_dict())
        return
    _print(result)


def _span(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _cell(x: Any, fmt: str = ".3g") -> str:
    return "–" if x is None else format(x, fmt)


def _print(result: WashReport) -> None:
    from flushwatch.cli.render import console, escape, new_table

    doc = result.to_dict()
    console.print(
        f"[bold]Trade-print suspicion[/] for {escape(doc['asset'])} over the "
        f"{_span(result.window_s)} to {doc['as_of']} (wash_suspicion "
        f"{_cell(doc['score'], '.2f')}). {escape(doc['caveat'])}."
    )
    cols = ("test", "statistic", "p", "p (Holm)", "suspicion", "n", "what")
    for v in doc["venues"]:
        title = (
            f"{v['exchange']} {v['market']} {v['symbol']}: {v['prints']:,} prints, sizes "
            f"in {v['size_unit']}, {'SUSPICIOUS' if v['flagged'] else 'not suspicious'} "
            f"(score {_cell(v['score'], '.2f')}; {v['correction']})"
        )  # 80 columns: the "what" sentences wrap, the test names stay whole
        t = new_table(*cols, title=title, right=cols[1:6], tight=True, min_widths={"test": 19})
        for x in v["tests"]:
            mark = "[red]yes[/]" if x["suspicious"] else ("no" if x["available"] else "n/a")
            t.add_row(
                escape(x["name"]), _cell(x["statistic"]), _cell(x["p_value"], ".2g"),
                _cell(x["p_holm"], ".2g"), mark, str(x["n"]), escape(x["note"]),
            )  # fmt: skip
        console.print(t)
    for note in doc["notes"]:
        console.print(f"[dim]{escape(note)}[/]")


def register(app: typer.Typer) -> None:
    """Add ``wash`` to the flushwatch command."""

    @app.command("wash")
    def wash(
        asset: Annotated[str, typer.Argument(help="Asset, e.g. BTC (every venue's prints).")],
        store: StoreOpt = None,
        at: AtOpt = None,
        window: Annotated[
            str, typer.Option(help="Prints in the window before --at: 30m, 6h, 1d.")
        ] = "24h",
        venue: Annotated[
            str | None, typer.Option(help="Only this exchange (ccxt id, e.g. binanceusdm).")
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Wash-trading SUSPICION from trade prints, per venue (not a finding of wash trading).

        First digits against Benford's law, round-lot clustering, the size tail exponent,
        equal-size opposite-side pairs, and volume against OI and depth where the store has
        them; each with its statistic and a Holm-corrected p-value.
        """
        run_cli(lambda: run(store, asset, at=at, window=window, venue=venue, json_out=json_out))
