"""Done when (issue 14): the service crosses into a year without holiday data without a cliff: it warns on the
days before, does not exit at the end but idles (healthy, the reason published), and resumes on its own, in the
same `run`, once an override file lists the new year's holidays."""

from __future__ import annotations

from datetime import date, datetime

from swingtrader.calendar_watch import CalendarWatch
from swingtrader.clock import IST, SimClock
from swingtrader.market.calendar import TradingCalendar
from swingtrader.notify import NotificationKind
from swingtrader.schedule import Plan, Scheduler
from swingtrader.store import Store
from swingtrader.store.ledger import Ledger
from swingtrader.store.state import ServiceState

LAST = date(2026, 12, 31)  # the last session the bundled calendar data knows
OVERRIDE = "date,kind,sessions,note,source\n2027-01-26,holiday,,Republic Day,NSE circular\n"


def test_the_year_end_warns_idles_and_resumes_when_holidays_appear(tmp_path):
    cache, override = tmp_path / "cache", tmp_path / "holidays.csv"
    calendar = TradingCalendar.load(cache_dir=cache)
    assert calendar.last_session().date == LAST
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    clock = SimClock(datetime(2026, 12, 1, 8, 0, tzinfo=IST))
    ran: list[tuple[str, date]] = []
    alerts: list[tuple[NotificationKind, str]] = []
    idle_seen: list[str] = []
    reloads = []

    def reload() -> TradingCalendar:
        reloads.append(clock.now())
        calendar_state = ServiceState(store).calendar()
        idle_seen.append(calendar_state["idle"] if calendar_state else "")
        if len(reloads) == 30:  # a person writes the override file while the service idles
            override.write_text(OVERRIDE)
        return TradingCalendar.load(override if override.exists() else None, cache_dir=cache)

    def run_task(slot):
        ran.append((slot.task, slot.trading_date))
        return {}

    scheduler = Scheduler(Plan(calendar, ("monitor_sell_orders",)), Ledger(store), clock, calendar, run_task)
    watch = CalendarWatch(calendar, reload, clock=clock, state=ServiceState(store),
                          notify=lambda k, title, _body: alerts.append((k, title)), stop=scheduler.stop)
    scheduler.on_new_day, scheduler.on_calendar_end = watch.new_day, watch.wait_for_data
    scheduler.run(start_day=date(2026, 12, 1), until=datetime(2027, 1, 4, 9, 20, tzinfo=IST))

    warnings = [title for kind, title in alerts if kind is NotificationKind.CALENDAR_ENDING]
    assert warnings[0] == "exchange calendar data ends with the session of 2026-12-31: 22 sessions left"
    assert "exchange calendar data ends with the session of 2026-12-31: 1 sessions left" in warnings
    assert len([w for w in warnings if "sessions left" in w]) == 22  # once a day: one per session day before
    assert any(t.startswith("swingtrader idle: idle: no exchange calendar after 2026-12-31") for t in warnings)
    assert warnings[-1] == "swingtrader resumes"
    assert ("eod_cleanup", LAST) in ran  # the last known session's evening ran, then it idled
    assert all(reason.startswith("idle: no exchange calendar after 2026-12-31") for reason in idle_seen)
    assert len(reloads) == 30  # re-read hourly while idle, no more after it resumed
    assert ("place_sell_orders", date(2027, 1, 4)) in ran  # the same run() went on into the new year
    assert calendar.last_session().date.year == 2027
    state = ServiceState(store).calendar()
    assert state is not None and state["idle"] == "" and state["last_session"].startswith("2027-12")
    store.dispose()


def test_status_dashboard_healthz_and_metrics_say_the_calendar_ends(tmp_path):
    import os
    import subprocess
    import sys

    import httpx

    from swingtrader.web import create_app, start_web_in_thread

    store = Store.open(f"sqlite:///{tmp_path / 'swingtrader.sqlite'}")
    state, now = ServiceState(store), datetime(2026, 12, 21, 17, 0, tzinfo=IST)
    state.set_calendar({"last_session": "2026-12-31", "sessions_left": "9", "idle": ""}, now)
    handle = start_web_in_thread(create_app(store, read_only=True, clock=SimClock(now)), "127.0.0.1", 0)
    try:
        overview = httpx.get(f"{handle.url}/api/overview", timeout=10).json()
        assert overview["calendar"]["attention"] is True
        assert overview["calendar"]["text"] == "exchange calendar data reaches 2026-12-31: 9 sessions left"
        page = httpx.get(f"{handle.url}/", timeout=10).text
        assert 'id="calendar-ending"' in page and "9 sessions left" in page
        assert "To carry on: list next year&#39;s NSE holidays in SWINGTRADER_CALENDAR_OVERRIDE_FILE" in page
        assert "swingtrader_calendar_sessions_left 9.0" in httpx.get(f"{handle.url}/metrics", timeout=10).text
        assert httpx.get(f"{handle.url}/healthz", timeout=10).json() == {"status": "alive"}
        state.set_calendar({"last_session": "2026-12-31", "sessions_left": "0",
                            "idle": "idle: no exchange calendar after 2026-12-31 (2027 has no holiday data)"}, now)
        health = httpx.get(f"{handle.url}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"status": "alive",
                                 "detail": "idle: no exchange calendar after 2026-12-31 (2027 has no holiday data)"}
        assert "Idle: no exchange calendar" in httpx.get(f"{handle.url}/", timeout=10).text
    finally:
        handle.stop()
        store.dispose()
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path))
    status = subprocess.run([sys.executable, "-m", "swingtrader", "status"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert "WARNING: idle: no exchange calendar after 2026-12-31 (2027 has no holiday data); list next year's" \
        in status.stdout


def test_a_start_on_a_weekend_warns_once_counting_from_today(tmp_path):
    """Started on Sunday 6 December 2026 the loop first catches up on Friday's evening, then reaches Monday: one
    warning, with the sessions left from today (18: 7-11, 14-18, 21-24 and 28-31 December), not two."""
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    clock = SimClock(datetime(2026, 12, 6, 2, 40, tzinfo=IST))
    alerts: list[str] = []
    scheduler = Scheduler(Plan(calendar, ("eod_cleanup",)), Ledger(store), clock, calendar, lambda _slot: {})
    watch = CalendarWatch(calendar, lambda: calendar, clock=clock, state=ServiceState(store),
                          notify=lambda _k, title, _body: alerts.append(title), stop=scheduler.stop)
    scheduler.on_new_day, scheduler.on_calendar_end = watch.new_day, watch.wait_for_data
    scheduler.run(until=datetime(2026, 12, 7, 9, 0, tzinfo=IST))
    assert alerts == ["exchange calendar data ends with the session of 2026-12-31: 18 sessions left"]
    assert ServiceState(store).calendar()["sessions_left"] == "18"
