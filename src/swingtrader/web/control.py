"""`ServiceControl`: what the dashboard may ask of the running service. The service implements it."""

from __future__ import annotations

from typing import Any, Protocol


class ServiceControl(Protocol):
    """Called from web request threads, so each method must be thread-safe and return promptly
    (`run_task_now` should hand the task to the scheduler rather than run it inline)."""

    def pause_new_orders(self) -> None:
        """Stop placing new orders (existing orders and monitoring continue) until resumed."""
        ...

    def resume_new_orders(self) -> None: ...

    def run_task_now(self, task: str) -> dict[str, str]:
        """Queue one run of `task` (a name from `swingtrader.task_names.TASK_NAMES`) through the ledger;
        `ValueError` for an unknown task or a day without a session. Returns `{"task", "slot", "status"}`."""
        ...

    def force_relogin(self) -> None:
        """Log in to the broker again now."""
        ...

    def session_state(self) -> dict[str, Any]:
        """`{"logged_in": bool, "expires_at": aware datetime | None, "logins_today": int}`."""
        ...

    def unknown_statuses(self) -> dict[str, int]:
        """Order status strings the broker sent that the service does not know (treated as still active), with
        how many times each was met; {} when none."""
        ...

    def mode(self) -> str:
        """The settings' mode, `"paper"` or `"live"`, with `" (read-only)"` appended when
        `SWINGTRADER_READ_ONLY` is set (`swingtrader.runtime.mode_label`)."""
        ...
