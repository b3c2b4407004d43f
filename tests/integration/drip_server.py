"""A hung broker on 127.0.0.1: it reads each request, then answers one byte every `interval` seconds (after the
status line and headers, or with the headers dripped too). It records when each client hung up."""

from __future__ import annotations

import select
import socket
import threading
import time

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


class DripServer:
    def __init__(self, *, interval: float = 0.5, body_bytes: int = 200, drip_headers: bool = False) -> None:
        self.interval, self.body_bytes, self.drip_headers = interval, body_bytes, drip_headers
        self.paths: list[str] = []
        self.hangups: list[float] = []  # seconds from a request's arrival to the client closing the connection
        self.finished = 0  # replies sent in full
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> DripServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next((int(v) for k, _, v in (x.partition(":") for x in lines[1:])
                           if k.strip().lower() == "content-length"), 0)
            while len(body) < length:
                body += conn.recv(65536)
            arrived = time.monotonic()
            with self._lock:
                self.paths.append(lines[0].split()[1])
            reply = (_HEAD % self.body_bytes) + b" " * self.body_bytes
            if not self.drip_headers:
                conn.sendall(_HEAD % self.body_bytes)
                reply = reply[len(_HEAD % self.body_bytes):]
            for i in range(len(reply)):
                readable, _, _ = select.select([conn], [], [], self.interval)
                if readable or self._stop.is_set():  # the client hung up (or sent junk): stop dripping
                    with self._lock:
                        self.hangups.append(time.monotonic() - arrived)
                    return
                try:
                    conn.sendall(reply[i:i + 1])
                except OSError:
                    return
            with self._lock:
                self.finished += 1
