"""Serve an ASGI app with uvicorn in a background thread on a free local port.

Shared by the vendor emulators. Needs the ``chatkit[emulators]`` extra.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Self

from chatkit._optional import missing

try:
    import uvicorn
    from starlette.types import ASGIApp
except ImportError as exc:
    raise missing("uvicorn", "the vendor emulators", exc) from exc

__all__ = ["BackgroundServer", "Emulator"]


class BackgroundServer:
    """Run ``app`` on ``http://host:port`` in a daemon thread until `stop`.

    With ``ssl_certfile`` it serves HTTPS instead (``https://host:port``), for
    vendor clients that only build ``https://`` URLs; `trustme` makes a
    throw-away CA and certificate for that.

    Args:
        app: The ASGI application.
        host: Interface to bind; loopback by default.
        port: Port to bind; ``0`` picks a free one (read it from `port`).
        ssl_certfile: PEM file with the server certificate (and its chain);
            enables TLS.
        ssl_keyfile: PEM file with the certificate's private key, when it is
            not in ``ssl_certfile``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
    ) -> None:
        if ssl_keyfile is not None and ssl_certfile is None:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        self._app = app
        self._host = host
        self._requested_port = port
        self._ssl_certfile = ssl_certfile
        self._ssl_keyfile = ssl_keyfile
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port; raises `RuntimeError` before `start`."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def scheme(self) -> str:
        """``https`` when serving TLS, else ``http``."""
        return "https" if self._ssl_certfile is not None else "http"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (``https://`` with TLS)."""
        return f"{self.scheme}://{self._host}:{self.port}"

    def start(self, *, timeout: float = 10.0) -> None:
        """Bind the socket, start serving, and return once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._requested_port))
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            ws="none",
            http="h11",
            access_log=False,
            ssl_certfile=self._ssl_certfile,
            ssl_keyfile=self._ssl_keyfile,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="chatkit-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"the emulator did not start on {self._host}:{self._port}")
            time.sleep(0.01)

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end. Idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def serve_forever(self) -> None:
        """Block until interrupted (for the ``chatkit emulate`` command)."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


class Emulator:
    """Base of the vendor emulators: an ASGI ``app`` served on a local port.

    Subclasses set ``self.app`` in ``__init__``; TLS emulators override
    `_server_for` (and `stop` to clean up), others may use `_started`.
    """

    app: ASGIApp
    _server: BackgroundServer | None = None
    default_port: int = 8765
    """The port ``serve_forever`` binds when none is given."""

    def _server_for(self, host: str, port: int) -> BackgroundServer:
        """The server to run ``app`` on (plain HTTP here)."""
        return BackgroundServer(self.app, host=host, port=port)

    def _started(self, server: BackgroundServer) -> None:
        """Called once the server accepts requests."""

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Serve in a background thread (``port=0``: a free one); returns self."""
        server = self._server_for(host, port)
        server.start()
        self._server = server
        self._started(server)
        return self

    def stop(self) -> None:
        """Stop serving. Idempotent."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def serve_forever(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        """Serve in the foreground until interrupted (``chatkit emulate <vendor>``)."""
        if self._server is None:
            self.start(host=host, port=self.default_port if port is None else port)
        assert self._server is not None
        try:
            self._server.serve_forever()
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return self._server.url
