"""The addresses of a loopback server bound to 127.0.0.1 on a free port, and the lifecycle of
a REST-only one."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response


class Bound:
    """Mixin: ``port``, ``ws_base`` and ``http_base`` of the server in ``self._server``."""

    _server: Server | None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("the loopback server is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def ws_base(self) -> str:
        """``ws://127.0.0.1:<port>``: the websocket base (venues append their paths)."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_base(self) -> str:
        """``http://127.0.0.1:<port>``: the REST base."""
        return f"http://127.0.0.1:{self.port}"


class RestOnly(Bound):
    """A REST history server on an ephemeral 127.0.0.1 port (an async context manager).

    Subclasses answer every HTTP request in :meth:`_http`; a websocket upgrade is refused
    (close 1008), so a client that tries to stream from a REST base sees it at once.
    """

    _server: Server | None = None

    async def __aenter__(self) -> Self:
        """Start listening on 127.0.0.1."""
        self._server = await serve(self._ws, "127.0.0.1", 0, process_request=self._http)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _ws(self, ws: ServerConnection) -> None:
        await ws.close(1008, "REST only")

    def _http(self, ws: ServerConnection, request: Request) -> Response:
        raise NotImplementedError
