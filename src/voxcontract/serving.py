"""Serving an ASGI app with uvicorn: in the foreground (the CLI) or on a background thread (tests, plugins).

HTTPS when given a certificate (`voxcontract.tls.ServerCertificate`)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from voxcontract.tls import ServerCertificate, UvicornTLSOptions

__all__ = ["BackgroundServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """A real uvicorn server on a thread, on 127.0.0.1 and a free port (HTTPS with a ``certificate``).

    >>> with BackgroundServer(app) as server:
    ...     httpx.get(server.base_url + "/v1/health")
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 20.0,
        certificate: ServerCertificate | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        self.scheme = "https" if certificate else "http"
        tls: UvicornTLSOptions = certificate.uvicorn_options() if certificate else {}
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", lifespan="on", **tls)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
