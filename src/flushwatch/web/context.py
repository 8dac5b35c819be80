"""What every route shares: the read-only workspace, the answer cache and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request  # FastAPI reads the annotation at run time

from flushwatch.web.cache import AnswerCache

if TYPE_CHECKING:
    from collections.abc import Callable

    from flushwatch.api import Workspace

PRICED = ("bars", "mark_price")


@dataclass
class Dashboard:
    """One store served: ``ask`` runs a workspace call through the cache."""

    ws: Workspace
    token: str | None = None
    #: Seconds between two looks at the store for the live page.
    live_poll_s: float = 1.0
    cache: AnswerCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = AnswerCache(self.ws.data_version)

    def ask(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``ws.<name>(*args, **kwargs)``, cached by (store version, name, arguments)."""
        call: Callable[..., Any] = getattr(self.ws, name)
        key = repr((name, args, sorted(kwargs.items())))  # lists are fine in a repr
        return self.cache.get(key, lambda: call(*args, **kwargs))

    def assets(self) -> list[str]:
        """Assets with prices in the store, sorted (from the store's series)."""
        from flushwatch.domain.symbols import base_asset

        info = self.ask("info")
        return sorted({base_asset(s.symbol) for s in info.series if s.dataset in PRICED})

    def simulated(self) -> bool:
        """Whether any stored series comes from the market simulator (pages say so)."""
        return any(s.exchange == "simulated" for s in self.ask("info").series)


def dashboard(request: Request) -> Dashboard:
    """The :class:`Dashboard` of the app serving ``request``."""
    dash: Dashboard = request.app.state.dashboard
    return dash
