import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from swingtrader.broker.base import Funds, LoginFailed, SessionInfo
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


def test_a_token_that_dies_at_midnight_is_renewed_once_after_midnight(tmp_path, calendar):
    broker, clock, _, _ = make_market(tmp_path, calendar, at(MON, 9, 0))
    events = []
    session = SessionManager(broker, clock, refresh_margin=timedelta(minutes=5),
                             on_event=lambda e, d: events.append(e))
    session.orders()
    minute = at(MON, 23, 50)
    while minute <= at(MON + timedelta(days=1), 0, 10):  # a call every 30 s across midnight
        clock.sleep_until(minute)
        session.funds()
        minute += timedelta(seconds=30)
    assert session.logins == 2  # 09:00, then once after midnight: a new token at 23:55 would die at midnight too
    assert session.session.expires_at == at(MON + timedelta(days=2), 0, 0)
    assert events == ["login", "login"]  # no call met an expired token


class EightHourTokens:
    """A broker whose tokens last eight hours from their login (no calendar boundary)."""

    name = "eight-hour"

    def __init__(self, clock):
        self.clock, self.logins = clock, []

    def login(self):
        self.logins.append(self.clock.now())
        return SessionInfo(token=SecretStr(f"t{len(self.logins)}"), expires_at=self.clock.now() + timedelta(hours=8))

    def funds(self):
        return Funds(available_cash=Decimal("1000"))


def test_a_token_with_a_lifetime_is_refreshed_early_once_per_expiry(tmp_path, calendar):
    _, clock, _, _ = make_market(tmp_path, calendar, at(MON, 9, 0))
    broker = EightHourTokens(clock)
    session = SessionManager(broker, clock, refresh_margin=timedelta(minutes=5))
    moment = at(MON, 9, 0)
    while moment < at(MON + timedelta(days=1), 2, 0):  # a call every minute for 17 hours
        clock.sleep_until(moment)
        session.funds()
        moment += timedelta(minutes=1)
    assert broker.logins == [at(MON, 9, 0), at(MON, 16, 55), at(MON + timedelta(days=1), 0, 50)]


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
