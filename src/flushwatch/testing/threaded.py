"""Run an async server (a loopback exchange) on its own thread and event loop.

CLI commands run ``asyncio.run`` themselves, so a test that drives the real command needs its
loopback exchange served from another thread; this is that harness, for every venue's loopback.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def served_in_thread(
    make: Callable[[], AbstractAsyncContextManager[T]], timeout: float = 30.0
) -> Iterator[T]:
    """Enter ``make()`` on a new thread's event loop; yield it; leave it and join on exit."""
    ready = threading.Event()
    box: dict[str, object] = {}

    async def serve() -> None:
        try:
            async with make() as server:
                stop = asyncio.Event()
                box.update(server=server, loop=asyncio.get_running_loop(), stop=stop)
                ready.set()
                await stop.wait()
        except BaseException as exc:  # reported to the caller, not lost on the thread
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise TimeoutError(f"the server did not start within {timeout:g} s")
    if "error" in box:
        raise RuntimeError("the server failed to start") from box["error"]  # type: ignore[misc]
    try:
        yield box["server"]  # type: ignore[misc]
    finally:
        loop, stop = box["loop"], box["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
