"""`ErrorGuard`: the outermost middleware. Any exception a request raises is logged and answered here
(503 when the store is unavailable, 500 otherwise), so nothing escapes to the server or the process."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class ErrorGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("dashboard request %s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                await _error_response(scope, exc)(scope, receive, send)


def _error_response(scope: Scope, exc: Exception) -> Response:
    status, message = (503, "the store is unavailable") if isinstance(exc, OperationalError) else (
        500, f"internal error ({type(exc).__name__}); see the service log"
    )
    if scope.get("path", "").startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)
