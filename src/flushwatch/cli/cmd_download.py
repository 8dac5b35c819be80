"""``flushwatch download …``: fetch market data into the store (archives, vendor APIs).

One sub-command per source; each source's options and printing live in its own module
(``download_vision``, ``download_vendors``), the fetching in ``flushwatch.connectors``
and the import in ``flushwatch.api``.
"""

from __future__ import annotations

import typer

from flushwatch.cli.once import OnceGroup

download_app = typer.Typer(
    name="download",
    help=(
        "Download market data into the store: Binance Vision archives, Coinalyze and "
        "CoinGlass vendor APIs. Each file or page is imported as it arrives; a rerun "
        "fetches only what is missing."
    ),
    no_args_is_help=True,
    cls=OnceGroup,
)


def register(app: typer.Typer) -> None:
    """Add ``download`` and its sources to the CLI."""
    from flushwatch.cli import download_vendors, download_vision

    download_vision.register(download_app)
    download_vendors.register(download_app)
    app.add_typer(download_app, name="download")
