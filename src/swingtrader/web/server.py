"""Serving the web app beside the trading loop: uvicorn in a daemon thread that trading never waits on."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


@dataclass
class WebHandle:
    """A running web server. `port` is the bound port (useful when 0 was asked for)."""

    host: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here, in the caller's thread)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the server to finish in-flight requests and exit; wait up to `timeout` seconds."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(1.0)


def start_web_in_thread(app: FastAPI, host: str, port: int, *, startup_timeout: float = 10.0) -> WebHandle:
    """Bind `host:port` now (an `OSError` names the problem, e.g. the port is in use) and serve `app`
    from a daemon thread. Call `check_bind` first. Returns once the server accepts connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # IPPROTO_TCP: asyncio sets TCP_NODELAY
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound_port = sock.getsockname()[1]
    # h11, asyncio and no websockets named outright: "auto" would import (or probe for) httptools, uvloop and
    # the websockets protocol, memory the dashboard never uses
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=3,
                            http="h11", loop="asyncio", ws="none")
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from uvicorn included: the web part must never take the process
            failure.append(exc)
            log.exception("web server stopped with an error")
        finally:
            sock.close()

    thread = threading.Thread(target=serve, name="swingtrader-web", daemon=True)
    thread.start()
    waited = 0.0
    while not server.started and thread.is_alive() and waited < startup_timeout:
        thread.join(0.02)
        waited += 0.02
    if not server.started:
        server.should_exit = True
        raise RuntimeError(f"the web server did not start on {host}:{port}: {failure[0] if failure else 'timeout'}")
    log.info("dashboard at http://%s:%d", host, bound_port)
    return WebHandle(host, bound_port, server, thread)
