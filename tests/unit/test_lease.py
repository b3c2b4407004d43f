"""The instance lease on a real SQLite store, with virtual clocks (one per process it stands for)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from swingtrader.clock import IST, SimClock
from swingtrader.store import Store
from swingtrader.store.lease import Lease, LeaseHeld, LeaseLost, current
from swingtrader.store.ledger import Ledger, RunStatus

START = datetime(2024, 7, 1, 9, 2, 11, tzinfo=IST)
EXPIRY = timedelta(seconds=60)


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'lease.sqlite'}")
    yield s
    s.dispose()


def _lease(store: Store, clock: SimClock, pid: int) -> Lease:
    return Lease(store, clock, mode="paper", expiry=EXPIRY, host="tradebox", pid=pid,
                 monotonic=lambda: clock.now().timestamp(),  # the process's own time, frozen with its clock
                 sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)))


def test_a_live_lease_is_refused_naming_its_holder(store):
    a_clock, b_clock = SimClock(START), SimClock(START + timedelta(seconds=3))
    assert _lease(store, a_clock, 4211).acquire() is None
    with pytest.raises(LeaseHeld) as refused:
        _lease(store, b_clock, 5000).acquire()
    assert str(refused.value) == ("the store is in use: held by pid 4211 on host tradebox since 09:02:11 IST, "
                                  "heartbeat 3 s ago")


def test_an_expired_lease_is_taken_over_and_fences_the_old_holder(store):
    a_clock, b_clock = SimClock(START), SimClock(START + EXPIRY + timedelta(seconds=1))
    a, b = _lease(store, a_clock, 1), _lease(store, b_clock, 2)
    a.acquire()
    a.install()
    previous = b.acquire()
    assert previous is not None and previous.pid == 1
    a_clock.advance(timedelta(seconds=1))  # a never noticed time pass (it was not frozen by its own clock)
    with pytest.raises(LeaseLost, match="took the store's lease over"):
        Ledger(store).claim("analysis", date(2024, 7, 1), "1600", START, a_clock.now())
    assert not a.held
    b.install()
    Ledger(store).claim("analysis", date(2024, 7, 1), "1600", START, b_clock.now())  # the new owner writes
    a.release()  # a lost lease is left to its new holder
    assert current(store).pid == 2


def test_a_holder_past_its_own_expiry_writes_nothing_even_untaken(store):
    clock = SimClock(START)
    lease = _lease(store, clock, 1)
    lease.acquire()
    lease.install()
    ledger = Ledger(store)
    ledger.record_run("position_monitor", date(2024, 7, 1), "0930", RunStatus.SUCCEEDED, START, START, START)
    clock.advance(EXPIRY)  # frozen through the whole lease
    with pytest.raises(LeaseLost, match="expired"):
        ledger.flush()  # the buffered bulk path is fenced too
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM task_runs").scalar() == 0


def test_release_then_another_process_takes_it(store):
    a = _lease(store, SimClock(START), 1)
    a.acquire()
    a.release()
    assert current(store) is None
    assert _lease(store, SimClock(START), 2).acquire() is None


def _until(condition) -> None:
    """Poll `condition` (bounded): the renewal thread's effect, seen in the store."""
    import time

    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the renewal thread did nothing"
        time.sleep(0.01)


def test_kept_renewed_on_a_thread_until_halted(store):
    clock = SimClock(START)
    lease = _lease(store, clock, 1)
    lease.acquire()
    halt = lease.keep_renewed(0.01)
    clock.advance(timedelta(seconds=45))  # 3/4 of the expiry on: only a renewal keeps the lease
    _until(lambda: current(store).heartbeat_at == START + timedelta(seconds=45))
    halt()
    clock.advance(EXPIRY + timedelta(seconds=1))  # halted: past the last renewal's expiry, the lease is gone
    with pytest.raises(LeaseLost, match="expired"):
        lease.renew()


def test_renewal_thread_ends_when_the_lease_is_taken_over(store):
    a_clock = SimClock(START)
    a = _lease(store, a_clock, 1)
    a.acquire()
    halt = a.keep_renewed(0.01)
    _lease(store, SimClock(START + EXPIRY + timedelta(seconds=1)), 2).acquire()
    _until(lambda: not a.held)
    halt()  # returns: the thread has already ended
    assert current(store).pid == 2


def test_a_taker_whose_clock_is_ahead_never_takes_a_renewing_holder_over(store):
    a_clock, b_clock = SimClock(START), SimClock(START + 10 * EXPIRY)  # b's wall clock is far ahead
    a = _lease(store, a_clock, 1)
    a.acquire()

    def waits(seconds: float) -> None:  # while b watches, a renews (its own clock moving with b's)
        b_clock.advance(timedelta(seconds=seconds))
        a_clock.advance(timedelta(seconds=seconds))
        a.renew()

    b = Lease(store, b_clock, mode="paper", expiry=EXPIRY, host="tradebox", pid=2,
              monotonic=lambda: b_clock.now().timestamp(), sleep=waits)
    with pytest.raises(LeaseHeld, match="held by pid 1 on host tradebox"):
        b.acquire()
    assert current(store).pid == 1 and a.held


def test_a_wall_clock_jump_on_the_holder_changes_nothing(store):
    clock, ticks = SimClock(START), [0.0]
    lease = Lease(store, clock, mode="paper", expiry=EXPIRY, host="tradebox", pid=1, monotonic=lambda: ticks[0])
    lease.acquire()
    lease.install()
    clock.advance(10 * EXPIRY)  # the wall clock jumps forward; the monotonic clock moved a second
    ticks[0] += 1.0
    Ledger(store).claim("analysis", date(2024, 7, 1), "1600", START, clock.now())  # still the owner: it writes
    assert lease.held and current(store).pid == 1
