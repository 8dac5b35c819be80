"""The dashboard served by a real uvicorn on 127.0.0.1 from a thread (tests and benchmarks).

Port 0 lets the kernel pick a free port; the bound port is read back from the server's socket.
The server is asked to exit on leaving, with a short grace period for open event streams.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

HOST = "127.0.0.1"  # never any other address


@contextmanager
def dashboard_server(app: FastAPI, timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yield its base URL; stop and join on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=1, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
