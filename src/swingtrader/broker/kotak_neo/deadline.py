"""A total deadline for an HTTP exchange: connect, send and the whole response, slow-drip servers included.

httpx's timeouts bound each socket operation, so a server that sends one byte every few seconds holds a request
forever. `deadline_transport()` is an httpx transport whose sockets cap every connect, read and write at the time
left before the deadline of the calling thread's `total_deadline(seconds)` scope; past it the operation raises
httpx's own timeout error (`ConnectTimeout`, `ReadTimeout`, `WriteTimeout`), the connection is dropped and the
scope's `expired` is set.
Outside any scope the transport behaves like httpx's default one (without proxies from the environment).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpcore
import httpx

T = TypeVar("T")
_local = threading.local()


class Deadline:
    """One `total_deadline` scope: `expired` turns True when an operation inside it ran out of time."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False


@contextmanager
def total_deadline(seconds: float) -> Iterator[Deadline]:
    """Everything this thread sends through a `deadline_transport()` inside the block ends within `seconds`
    (a nested scope never extends an outer one)."""
    outer: Deadline | None = getattr(_local, "scope", None)
    at = time.monotonic() + seconds
    scope = Deadline(at if outer is None else min(outer.at, at))
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = outer


def _within(timeout: float | None, error: type[Exception], operation: Callable[[float | None], T]) -> T:
    """Run a socket operation with its timeout cut to the time left in the thread's scope."""
    scope: Deadline | None = getattr(_local, "scope", None)
    if scope is None:
        return operation(timeout)
    left = scope.at - time.monotonic()
    if left <= 0:
        scope.expired = True
        raise error("the total deadline of the request has passed")
    if timeout is not None and timeout < left:
        return operation(timeout)
    try:
        return operation(left)
    except httpcore.TimeoutException:
        scope.expired = True
        raise


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _within(timeout, httpcore.ReadTimeout, lambda t: self._inner.read(max_bytes, t))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _within(timeout, httpcore.WriteTimeout, lambda t: self._inner.write(buffer, t))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(_within(timeout, httpcore.ConnectTimeout,
                                       lambda t: self._inner.start_tls(ssl_context, server_hostname, t)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(_within(timeout, httpcore.ConnectTimeout, lambda t: self._inner.connect_tcp(
            host, port, t, local_address, socket_options)))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(_within(timeout, httpcore.ConnectTimeout,
                                       lambda t: self._inner.connect_unix_socket(path, t, socket_options)))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.ConnectionPool(  # httpx's own pool, on sockets that keep the deadline
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


def deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """An httpx transport that keeps the `total_deadline` of the calling thread."""
    return _DeadlineTransport(limits)
