"""The addresses of a loopback server bound to 127.0.0.1 on a free port."""

from __future__ import annotations

from websockets.asyncio.server import Server


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
