"""A loopback Binance Vision archive: a real HTTP server on 127.0.0.1 serving a file tree.

:func:`write_vision_file` zips CSV bytes the way data.binance.vision does (one CSV named like
the zip, a ``<zip>.CHECKSUM`` sidecar holding ``<sha256>  <name>``) into a folder that mirrors
the archive's ``data/...`` paths; :func:`real_vision_tree` builds such a tree from the real
rows in ``shared/data`` (never copied into the repository: the zips are made in a temporary
folder by each test). :class:`LoopbackVision` serves the folder over HTTP/1.1 from a thread,
answers 404 for what is not there (as the archive does for an unpublished file) and counts
every request and the most requests it had in flight at once.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

#: Real Vision excerpts (shared/data/binance-vision-format-examples) and their archive paths.
EXAMPLES = {
    "cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv": (
        "data/futures/cm/daily/klines/BTCUSD_PERP/1h/BTCUSD_PERP-1h-2023-10-27.zip"
    ),
    "spot-BTCUSDT-1h-2023-10-27-excerpt-noheader.csv": (
        "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2023-10-27.zip"
    ),
    "cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv": (
        "data/futures/cm/daily/metrics/BTCUSD_PERP/BTCUSD_PERP-metrics-2023-06-25.zip"
    ),
    "cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv": (
        "data/futures/cm/daily/liquidationSnapshot/BTCUSD_PERP/"
        "BTCUSD_PERP-liquidationSnapshot-2023-06-25.zip"
    ),
    "HYPEUSDT-metrics-2025-05-30-excerpt.csv": (
        "data/futures/um/daily/metrics/HYPEUSDT/HYPEUSDT-metrics-2025-05-30.zip"
    ),
    "BTCUSDT-bookDepth-2025-05-19-excerpt.csv": (
        "data/futures/um/daily/bookDepth/BTCUSDT/BTCUSDT-bookDepth-2025-05-19.zip"
    ),
}
#: Vision's own fundingRate header (the shared event-window file renamed it; PROVENANCE.md).
FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate"
FUNDING_MAY_2021 = "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2021-05.zip"


def write_vision_file(
    root: Path, rel: str, csv: bytes, *, checksum: str | None = None, corrupt: bool = False
) -> Path:
    """Write ``root/rel`` (a zip holding ``csv``) and its ``.CHECKSUM``; return the zip path.

    ``checksum`` overrides the digest written to the sidecar (a wrong one); ``corrupt`` cuts
    the zip in half *before* hashing it, so the sidecar matches a broken archive.
    """
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(path.name[: -len(".zip")] + ".csv", csv)
    if corrupt:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    digest = checksum or hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / (path.name + ".CHECKSUM")).write_text(f"{digest}  {path.name}\n")
    return path


def funding_rows(shared_data: Path, month: str) -> bytes:
    """The real BTCUSDT funding rows of ``month`` (``YYYY-MM``) with Vision's header."""
    from datetime import UTC, datetime

    src = (
        shared_data / "binance-btcusdt-funding-event-windows" / "BTCUSDT-funding-event-windows.csv"
    )
    lines = src.read_text(encoding="utf-8").splitlines()[1:]
    keep = [
        ln
        for ln in lines
        if datetime.fromtimestamp(int(ln.split(",")[0]) / 1000, UTC).strftime("%Y-%m") == month
    ]
    return ("\n".join([FUNDING_HEADER, *keep]) + "\n").encode()


def real_vision_tree(root: Path, shared_data: Path) -> dict[str, Path]:
    """Zip every real excerpt (and May 2021 funding) into ``root``; return archive path → zip."""
    examples = shared_data / "binance-vision-format-examples"
    out = {
        rel: write_vision_file(root, rel, (examples / name).read_bytes())
        for name, rel in EXAMPLES.items()
    }
    out[FUNDING_MAY_2021] = write_vision_file(
        root, FUNDING_MAY_2021, funding_rows(shared_data, "2021-05")
    )
    return out


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without this, Nagle's algorithm holds the body
    # for the client's delayed ACK (~40 ms a response on Linux loopback).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        srv = self.server
        with srv.lock:
            srv.requests.append(self.path)
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            if srv.delay:
                time.sleep(srv.delay)
            with srv.lock:
                fault = srv.faults.pop(0) if srv.faults else None
            if fault is not None:
                self._send(fault, f"<Error><Code>{fault}</Code></Error>".encode())
                return
            target = (srv.root / self.path.lstrip("/").split("?", 1)[0]).resolve()
            if srv.root not in target.parents or not target.is_file():
                self._send(404, b"<Error><Code>NoSuchKey</Code></Error>")
                return
            self._send(200, target.read_bytes())
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read ``requests`` instead of a log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, delay: float, faults: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.delay = delay
        self.faults = list(faults)
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer (a cancelled download) is not a server error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackVision:
    """Serve ``root`` (a ``data/...`` tree) at ``base_url`` on 127.0.0.1 from a thread.

    ``delay`` seconds are spent on every request (so concurrency shows); ``faults`` are HTTP
    statuses answered, in order, to the first requests instead of the files (503: a hiccup
    to retry; 403: a refusal).
    """

    def __init__(self, root: Path, *, delay: float = 0.0, faults: list[int] | None = None) -> None:
        self._server = _Server(root, delay, faults or [])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the host root the archive paths are appended to."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        """Every request path received, in order."""
        with self._server.lock:
            return list(self._server.requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests served at the same time."""
        return self._server.max_in_flight

    def __enter__(self) -> LoopbackVision:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@contextmanager
def serve_vision(
    root: Path, *, delay: float = 0.0, faults: list[int] | None = None
) -> Iterator[LoopbackVision]:
    """``with serve_vision(tree) as server:`` the archive at ``server.base_url``."""
    with LoopbackVision(root, delay=delay, faults=faults) as server:
        yield server
