"""Settings of the vendor API clients (``[coinalyze]`` and ``[coinglass]`` of a ``--config``).

Base URLs are configuration (tests point them at the loopback on 127.0.0.1), never constants
in client code; unknown keys inside these tables are errors, so a typo fails at startup. The
API keys are NOT configuration: they come from the environment only (:func:`api_key`), so they
never sit in a file that gets copied, committed or printed.

Limits, from the vendors' documentation:

* Coinalyze (https://api.coinalyze.net/v1/doc/): 40 calls a minute per key, at most 20
  symbols per call, and each symbol of a call counts as one call; intraday intervals keep only
  the most recent 1,500-2,000 points per symbol, ``daily`` keeps the whole history.
* CoinGlass v4 (https://docs.coinglass.com/reference): requests per minute by plan (Hobbyist
  30, Startup 80, Standard 300, Professional 1,200, Enterprise 6,000, from the pricing page;
  the key's own ``API-KEY-MAX-LIMIT`` answer header lowers the rate when smaller); the
  history endpoints return at most 1,000 rows a call; Hobbyist serves intervals of 4 h and
  longer, Startup 30 min and longer, the others every interval.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from flushwatch.connectors.config import Backoff
from flushwatch.errors import ConfigError

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
_T = TypeVar("_T")

#: The ``--config`` tables this module owns.
COINALYZE_TABLE = "coinalyze"
COINGLASS_TABLE = "coinglass"
VENDOR_TABLES = (COINALYZE_TABLE, COINGLASS_TABLE)

#: Environment variables holding the keys.
COINALYZE_KEY_ENV = "COINALYZE_API_KEY"
COINGLASS_KEY_ENV = "COINGLASS_API_KEY"

Plan = Literal["hobbyist", "startup", "standard", "professional", "enterprise"]
#: Requests per minute of each CoinGlass plan (pricing page, 2025).
PLAN_RATE: Mapping[str, int] = {
    "hobbyist": 30,
    "startup": 80,
    "standard": 300,
    "professional": 1200,
    "enterprise": 6000,
}
#: Shortest interval (seconds) each plan may ask the history endpoints for.
PLAN_MIN_INTERVAL_S: Mapping[str, int] = {"hobbyist": 4 * 3600, "startup": 30 * 60}


class CoinalyzeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[coinalyze]``: where the API is and how fast it may be called."""

    base_url: str = "https://api.coinalyze.net/v1"
    #: Calls a minute per key (each symbol of a request counts as one call).
    calls_per_minute: Annotated[int, msgspec.Meta(gt=0, le=40)] = 40
    #: Symbols per request (Coinalyze's maximum is 20).
    symbols_per_call: Annotated[int, msgspec.Meta(gt=0, le=20)] = 20
    #: Intervals per request and symbol: a longer range is split into windows of this many.
    page_rows: Annotated[int, msgspec.Meta(gt=0, le=2000)] = 1000
    timeout: PositiveFloat = 30.0
    backoff: Backoff = Backoff()


class CoinGlassConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[coinglass]``: where the v4 API is, your plan and the venues aggregated by default."""

    base_url: str = "https://open-api-v4.coinglass.com"
    #: Your CoinGlass plan: sets the request rate and the shortest interval allowed.
    plan: Plan = "hobbyist"
    #: Override the plan's requests per minute (lower it when other tools share the key).
    calls_per_minute: Annotated[int, msgspec.Meta(gt=0)] | None = None
    #: Rows per request (the history endpoints return at most 1,000).
    page_rows: Annotated[int, msgspec.Meta(gt=0, le=1000)] = 1000
    #: Venues aggregated when ``--exchange`` is not given (the three flushwatch records
    #: natively, and the set of the shared CoinGlass exports).
    exchange_list: str = "Binance,Bybit,OKX"
    timeout: PositiveFloat = 30.0
    backoff: Backoff = Backoff()

    @property
    def rate(self) -> int:
        """Requests per minute: the override, else the plan's."""
        return self.calls_per_minute or PLAN_RATE[self.plan]


class VendorConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Both vendors' settings."""

    coinalyze: CoinalyzeConfig = CoinalyzeConfig()
    coinglass: CoinGlassConfig = CoinGlassConfig()


def vendor_config(raw: Mapping[str, Any]) -> VendorConfig:
    """Build the settings from a parsed ``--config`` (other tables belong to other readers).

    Examples
    --------
    >>> vendor_config({}).coinglass.rate
    30
    >>> vendor_config({"coinalyze": {"base_url": "http://127.0.0.1:9"}}).coinalyze.base_url
    'http://127.0.0.1:9'
    """
    return VendorConfig(
        coinalyze=_table(raw, COINALYZE_TABLE, CoinalyzeConfig),
        coinglass=_table(raw, COINGLASS_TABLE, CoinGlassConfig),
    )


def _table(raw: Mapping[str, Any], table: str, cls: type[_T]) -> _T:
    try:
        cfg = msgspec.convert(raw.get(table, {}), cls)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"--config [{table}]: {exc}") from exc
    base: str = getattr(cfg, "base_url", "")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"--config [{table}] base_url {base!r}: give an http(s) URL")
    return cfg


def load_vendor_config(path: Path | None) -> VendorConfig:
    """Read ``path`` (TOML) when given, else the defaults (the vendors' real hosts)."""
    if path is None:
        return VendorConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from exc
    return vendor_config(raw)


def api_key(variable: str, vendor: str) -> str:
    """The key in ``$variable``; a missing or empty one is a one-line error saying what to set."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"set {variable} to your {vendor} API key (it is read from the environment only)"
        )
    return value
