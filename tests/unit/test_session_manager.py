import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest

from swingtrader.broker.base import LoginFailed
from swingtrader.broker.session import SessionManager
from swingtrader.market.calendar import TradingCalendar
from tests.unit.paper_fixtures import at, make_market

MON = date(2024, 7, 1)


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    return TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))


def test_twenty_threads_hitting_an_expired_session_cause_one_relogin(tmp_path, calendar):
    broker, clock, _, _ = make_market(tmp_path, calendar, at(MON, 10, 0))
    events = []
    session = SessionManager(broker, clock, on_event=lambda e, d: events.append(e))
    session.orders()
    assert session.logins == 1
    broker.expire_session()
    barrier = threading.Barrier(20)
    errors = []

    def call():
        barrier.wait()
        try:
            session.funds()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert errors == []
    assert session.logins == 2
    assert events.count("expired") == 1


def test_relogin_is_proactive_before_the_token_expires(tmp_path, calendar):
    broker, clock, _, _ = make_market(tmp_path, calendar, at(MON, 9, 0))
    session = SessionManager(broker, clock, refresh_margin=timedelta(minutes=5))
    session.orders()
    clock.sleep_until(at(MON, 23, 56))
    session.orders()  # within 5 minutes of the midnight expiry: logs in again first
    assert session.logins == 2
    clock.sleep_until(at(MON + timedelta(days=1), 9, 0))
    session.funds()
    assert session.logins == 3  # the token from 23:56 expired at midnight


class FailingLogin:
    """A broker whose login is refused (wrong MPIN) — the situation under test, not a stand-in for the manager."""

    name = "failing"

    def __init__(self):
        self.attempts = 0

    def login(self):
        self.attempts += 1
        raise LoginFailed("wrong MPIN")

    def funds(self):
        raise AssertionError("no call may be made without a session")


def test_login_stops_after_three_failures(tmp_path, calendar):
    _, clock, _, _ = make_market(tmp_path, calendar, at(MON, 9, 0))
    inner = FailingLogin()
    session = SessionManager(inner, clock)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            session.funds()
    assert inner.attempts == 3


def test_expired_during_a_write_is_reported_as_ambiguous(tmp_path, calendar):
    from swingtrader.broker.base import AmbiguousOutcome, OrderRequest, OrderType, Side

    broker, clock, _, _ = make_market(tmp_path, calendar, at(MON, 10, 0))
    session = SessionManager(broker, clock)
    session.orders()
    broker.expire_session()
    with pytest.raises(AmbiguousOutcome):
        session.place_order(OrderRequest("AAA", Side.BUY, 1, OrderType.LIMIT, Decimal("100.00"), "W1"))
    assert session.logins == 2
    assert [o.tag for o in session.orders()] == []  # nothing was placed: the caller resolves by tag
