"""`LiveControl`: the running service's answers to the dashboard (pause, run a task now, re-login, state, order
statuses the broker sent that we do not know).

Called from web request threads: every method returns promptly; slow work runs in a short-lived thread and
goes through the same ledger and locks as the scheduler."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, time
from typing import Any

from sqlalchemy import func, select

from swingtrader.account_view import LOGIN_EVENTS
from swingtrader.clock import IST, ist_date
from swingtrader.manual_runs import ManualRunRefused, check
from swingtrader.schedule import TASKS, Slot
from swingtrader.service import Service
from swingtrader.store import tables as t
from swingtrader.store.state import ServiceState

log = logging.getLogger(__name__)


class LiveControl:
    """Implements `swingtrader.web.control.ServiceControl` over a `Service`."""

    def __init__(self, service: Service, mode_label: str) -> None:
        self._service = service
        self._mode = mode_label

    def pause_new_orders(self) -> None:
        ServiceState(self._service.store).set_paused(True, self._service.clock.now())
        log.warning("new orders paused from the dashboard")

    def resume_new_orders(self) -> None:
        ServiceState(self._service.store).set_paused(False, self._service.clock.now())
        log.warning("new orders resumed from the dashboard")

    def run_task_now(self, task: str) -> dict[str, str]:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}")
        now = self._service.clock.now()
        day = ist_date(now)
        session = self._service.calendar.session(day)
        if session is None:
            raise ValueError(f"{day} is not a trading day")
        try:  # the manual-run guards (issue 9): the button never forces
            check(task, day, now, self._service.calendar, force=False)
        except ManualRunRefused as exc:
            raise ValueError(str(exc)) from None
        planned = [s for s in self._service.plan.slots(day) if s.task == task and not s.intraday]
        slot = planned[0] if planned else Slot(task, day, f"manual-{now:%H%M%S}", now, now, None, True, session.close)
        threading.Thread(target=self._service.scheduler.execute, args=(slot,), kwargs={"manual": True},
                         name=f"manual-{task}", daemon=True).start()
        return {"task": task, "slot": slot.slot, "status": "queued"}

    def force_relogin(self) -> None:
        threading.Thread(target=self._relogin, name="relogin", daemon=True).start()

    def _relogin(self) -> None:
        """A person asked for it: that clears the stop after repeated refused logins, then logs in."""
        self._service.broker.reset_failures()
        try:
            self._service.broker.login()
        except Exception:  # reported through the session events and the log; the dashboard shows the state
            log.exception("re-login requested from the dashboard failed")

    def session_state(self) -> dict[str, Any]:
        info = self._service.broker.session
        now = self._service.clock.now()
        midnight = datetime.combine(ist_date(now), time(0), tzinfo=IST)
        with self._service.store.connect() as conn:
            logins = conn.execute(
                select(func.count()).select_from(t.session_events)
                .where(t.session_events.c.event.in_(LOGIN_EVENTS), t.session_events.c.at >= midnight)
            ).scalar_one()
        return {
            "logged_in": info is not None and now < info.expires_at,
            "expires_at": None if info is None else info.expires_at,
            "logins_today": logins,
        }

    def unknown_statuses(self) -> dict[str, int]:
        return self._service.broker.unknown_statuses()

    def mode(self) -> str:
        return self._mode
