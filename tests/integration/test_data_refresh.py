"""The service's daily data refresh (issue 10): the analysis requires its day's bars (named failure and an alert
when they never come), picks up a directory that gained bars, and the paper exchange prices from the
refreshed bars, refusing prices older than `paper_max_price_age_days`."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.market.refresh import DataFeed, LiveBars, attach_feed
from swingtrader.market.ticks import round_to_tick
from swingtrader.notify import NotificationKind
from swingtrader.service import ClockMode, ServiceHooks, build_service, paper_broker, paper_path
from swingtrader.store import Store
from swingtrader.store.state import ServiceState
from tests.e2e import five_days
from tests.e2e.five_days import write_bars

MAY31, JUN3, JUN4, JUN5 = date(2024, 5, 31), date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5)


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


def test_missing_bars_fail_the_analysis_by_name_and_new_bars_are_picked_up(tmp_path):
    data = tmp_path / "bars"
    write_bars(data, MAY31)
    settings = load_settings(None, data_dir=tmp_path, data=str(data), data_wait_minutes=30)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = LiveBars(open_bar_source(str(data), cache_dir=tmp_path / "cache", parse_in_child=True))
    store = Store.open(f"sqlite:///{tmp_path / 'r.sqlite'}")
    clock = SimClock(at(JUN3, 8, 0))
    alerts: list[tuple[NotificationKind, str, str]] = []
    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=paper_broker(settings, store, clock, bars, calendar),
                            hooks=ServiceHooks(notify=lambda k, t, b: alerts.append((k, t, b))))
    attach_feed(service, settings, bars)

    service.scheduler.run(start_day=JUN3, until=at(JUN3, 17, 0))
    with store.connect() as conn:
        rows = conn.exec_driver_sql("select task, status, error from task_runs where trading_date = '2024-06-03' "
                                    "and task in ('analysis', 'place_buy_orders')").all()
    runs = {task: (status, error) for task, status, error in rows}
    assert runs["analysis"][0] == "failed" and "no_data_for_as_of: 2024-06-03" in runs["analysis"][1]
    assert runs["place_buy_orders"][0] == "skipped"
    assert [k for k, _, _ in alerts].count(NotificationKind.DATA_MISSING) == 1
    assert clock.now() >= at(JUN3, 16, 30)  # it kept trying for data_wait_minutes
    prices = ServiceState(store).prices()
    assert prices is not None and (prices.as_of, prices.age_days) == (MAY31, 1)

    write_bars(data, JUN4)  # the directory gains two days' bars
    service.scheduler.run(start_day=JUN4, until=at(JUN4, 16, 30))
    with store.connect() as conn:
        status = conn.exec_driver_sql("select status from task_runs where trading_date = '2024-06-04' "
                                      "and task = 'analysis'").scalar()
        closes = dict(conn.exec_driver_sql("select symbol, close from recommendations where as_of = '2024-06-04'"
                                           ).all())
    assert status == "succeeded" and bars.last_day() == JUN4
    expected = open_bar_source(str(data))
    assert closes and all(Decimal(str(c)) == Decimal(repr(expected.bar_on(s, JUN4)[3])) for s, c in closes.items())
    prices = ServiceState(store).prices()
    assert prices is not None and (prices.as_of, prices.age_days) == (JUN4, 0)
    store.dispose()


def test_paper_prices_follow_the_refresh_and_refuse_stale_bars(tmp_path):
    data = tmp_path / "bars"
    write_bars(data, JUN3)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = LiveBars(open_bar_source(str(data)))
    fresh, strict = paper_path(bars, calendar, 1), paper_path(bars, calendar, 0)
    noon = at(JUN4, 12, 0)
    assert fresh.price_at("INFY", JUN4, noon) == fresh.prev_close("INFY", JUN4)  # flat at the last close
    assert strict.price_at("INFY", JUN4, noon) is None  # a day old: no price, so no fill and no quote
    assert fresh.price_at("INFY", JUN5, noon) is None  # two days old
    write_bars(data, JUN4)
    bars.adopt(open_bar_source(str(data)))
    o, h, lo, _, _ = bars.bar_on("INFY", JUN4)

    def tick(x: float) -> Decimal:
        return round_to_tick(Decimal(repr(x)), JUN4, "nearest")

    for path in (fresh, strict):
        assert path.price_at("INFY", JUN4, at(JUN4, 9, 15)) == tick(o)
        assert path.range_between("INFY", JUN4, at(JUN4, 9, 15), at(JUN4, 15, 30)) == (tick(lo), tick(h))


def test_a_remote_source_is_fetched_only_for_a_missing_day(tmp_path):
    data = tmp_path / "bars"
    write_bars(data, JUN3)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = LiveBars(open_bar_source(str(data)))
    fetched = []

    def fetch():  # stands in for the yfinance download (no internet here)
        fetched.append(1)
        write_bars(data, JUN4)
        return open_bar_source(str(data))

    feed = DataFeed("yfinance", bars, clock=SimClock(at(JUN4, 16, 0)), calendar=calendar,
                    cache_dir=tmp_path / "cache", fetch=fetch)
    assert feed.refresh() is False and not fetched  # nothing wanted: no download before every task
    feed.require(JUN3, at(JUN5, 9, 0))
    assert not fetched
    feed.require(JUN4, at(JUN5, 9, 0))
    assert len(fetched) == 1 and bars.has_day(JUN4) and feed.age(JUN4) == 0


def _symbols() -> list[str]:
    return open_bar_source("bundled").symbols()


def _entries(cache) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.startswith("bars-"))


def test_refreshes_keep_two_cache_entries_and_remove_old_ones_of_any_kind(tmp_path):
    """Issue 14: a refresh removed the previous entry with `unlink`, which fails on the `.npy` directories
    (`IsADirectoryError` failed `eod_cleanup` and `place_buy_orders`); the cache grew by one copy a day."""
    data, cache, other = tmp_path / "bars", tmp_path / "cache", tmp_path / "other"
    write_bars(data, MAY31)
    write_bars(other, MAY31, symbols=_symbols()[:2])
    cache.mkdir()
    (cache / "bars-0123456789abcdef0123").mkdir()  # entries of the layouts before per-source names
    (cache / "bars-0123456789abcdef0123" / "close.npy").write_bytes(b"x")
    (cache / "bars-fedcba9876543210fedc.npz").write_bytes(b"x")
    open_bar_source(str(other), cache_dir=cache)  # another source's entry stays
    other_entries = set(_entries(cache)) - {"bars-0123456789abcdef0123", "bars-fedcba9876543210fedc.npz"}
    bars = LiveBars(open_bar_source(str(data), cache_dir=cache, parse_in_child=True))
    feed = DataFeed(str(data), bars, clock=SimClock(at(JUN5, 18, 0)), calendar=TradingCalendar.load(cache_dir=cache),
                    cache_dir=cache)
    for day in (JUN3, JUN4, JUN5):
        write_bars(data, day)
        assert feed.refresh() is True and bars.last_day() == day
        mine = [n for n in _entries(cache) if n not in other_entries]
        assert len(mine) <= 2 and not any(n.count("-") == 1 for n in mine)
    assert other_entries <= set(_entries(cache)) and len(other_entries) == 1
    assert feed.refresh() is False  # unchanged: nothing read


class _DownloaderPause:
    """`DataFeed.stop` whose wait (the feed's pause between two looks) is the moment a downloader writes
    `then()`: deterministic, no timing."""

    def __init__(self, then):
        self._then = then

    def wait(self, _timeout=None) -> bool:
        self._then()
        return False


def test_a_directory_being_written_file_by_file_is_not_read_until_it_settles(tmp_path):
    data, cache = tmp_path / "bars", tmp_path / "cache"
    symbols = _symbols()
    write_bars(data, JUN3)
    bars = LiveBars(open_bar_source(str(data), cache_dir=cache))
    feed = DataFeed(str(data), bars, clock=SimClock(at(JUN4, 18, 0)), calendar=TradingCalendar.load(cache_dir=cache),
                    cache_dir=cache)
    written = symbols[: len(symbols) // 2]
    write_bars(data, JUN4, symbols=written)  # half the files have the new day
    feed.stop = _DownloaderPause(lambda: write_bars(data, JUN4, symbols=[symbols[len(written)]]))
    assert feed.refresh(want=JUN4) is False  # files disagree and changed between the looks: not read
    assert bars.last_day() == JUN3 and not bars.has_day(JUN4)
    feed.stop = _DownloaderPause(lambda: None)  # the downloader stalls: unchanged between two looks
    assert feed.refresh(want=JUN4) is True
    assert bars.has_day(JUN4) and bars.bar_on(symbols[-1], JUN4) is None  # read as it stands, once stable
    write_bars(data, JUN4, symbols=symbols[len(written):])  # all agree on the newest day: read at once
    feed.stop = _DownloaderPause(lambda: (_ for _ in ()).throw(AssertionError("no pause needed")))
    assert feed.refresh() is True and all(bars.bar_on(s, JUN4) is not None for s in symbols)


def test_a_copy_whose_files_changed_while_parsed_never_reaches_the_bars(tmp_path):
    data, cache = tmp_path / "bars", tmp_path / "cache"
    symbols = _symbols()
    write_bars(data, JUN3)
    bars = LiveBars(open_bar_source(str(data), cache_dir=cache))
    loads = []

    def fetch_while_a_file_is_replaced():
        source = open_bar_source(str(data), cache_dir=cache)
        if not loads:
            write_bars(data, JUN5, symbols=symbols[:1])  # the downloader starts the next day mid-read
        loads.append(source)
        return source

    feed = DataFeed(str(data), bars, clock=SimClock(at(JUN4, 18, 0)), calendar=TradingCalendar.load(cache_dir=cache),
                    cache_dir=cache, fetch=fetch_while_a_file_is_replaced)
    feed.stop = _DownloaderPause(lambda: None)
    write_bars(data, JUN4)
    assert feed.refresh() is False and bars.last_day() == JUN3  # the copy read mid-change is dropped
    assert feed.refresh() is True and bars.last_day() == JUN5 and bars.bar_on(symbols[1], JUN5) is None


def test_the_wait_is_published_with_the_real_next_task_and_a_stop_leaves_the_analysis_to_run_again(tmp_path):
    """Issue 14: the dashboard said `analysis: running`, `Next task: none scheduled` while the analysis waited, and
    Ctrl-C then left it `failed`."""
    data = tmp_path / "bars"
    write_bars(data, MAY31)
    settings = load_settings(None, data_dir=tmp_path, data=str(data), data_wait_minutes=30)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = LiveBars(open_bar_source(str(data), cache_dir=tmp_path / "cache", parse_in_child=True))
    store = Store.open(f"sqlite:///{tmp_path / 'r.sqlite'}")
    clock = SimClock(at(JUN3, 15, 59))
    alerts, seen = [], []
    state = ServiceState(store)

    def heartbeat():  # the first beat of the wait: look at what is published, then the SIGINT handler's effect
        waiting = state.waiting()
        if waiting and not seen:
            seen.append((waiting, state.next_slot()))
            service.stop_event.set()

    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=paper_broker(settings, store, clock, bars, calendar),
                            hooks=ServiceHooks(notify=lambda k, t, b: alerts.append(k), heartbeat=heartbeat))
    attach_feed(service, settings, bars)
    service.scheduler.run(start_day=JUN3, until=at(JUN3, 17, 0))
    waiting, next_slot = seen[0]
    assert waiting == {"task": "analysis", "for": f"bars of {JUN3} in {data}", "until": "2024-06-03 16:30 IST"}
    assert next_slot is not None and (next_slot.task, next_slot.at) == ("place_buy_orders", at(JUN3, 16, 5))
    assert state.waiting() == {}  # cleared when the wait ended
    with store.connect() as conn:
        runs = dict(conn.exec_driver_sql("select task, status from task_runs where trading_date = '2024-06-03' "
                                         "and task in ('analysis', 'place_buy_orders')").all())
    assert runs == {"analysis": "running"} and NotificationKind.DATA_MISSING not in alerts
    assert NotificationKind.TASK_FAILED not in alerts

    write_bars(data, JUN3)
    service.stop_event.clear()
    service.scheduler.run(start_day=JUN3, until=at(JUN3, 17, 0))  # the next start: the slot runs again
    with store.connect() as conn:
        runs = dict(conn.exec_driver_sql("select task, status from task_runs where trading_date = '2024-06-03' "
                                         "and task in ('analysis', 'place_buy_orders')").all())
    assert runs == {"analysis": "succeeded", "place_buy_orders": "succeeded"}
    store.dispose()


def test_a_file_that_cannot_change_skips_days_past_its_end_and_fails_a_day_missing_within_it(tmp_path):
    """Issue 14: on a single file (like `bundled`) every evening after its newest bar would fail with an ERROR and
    an alert, though nothing can ever arrive: that is `skipped` with a plain reason; a day the file lacks within
    its span (3 June here) is still a named failure."""
    source = five_days._bundled()
    lines = ["symbol,date,open,high,low,close,volume"]
    for symbol in source.symbols()[:12]:
        b = source.bars(symbol)
        for d, o, h, lo, c in zip(b.dates.tolist(), b.open.tolist(), b.high.tolist(), b.low.tolist(),
                                  b.close.tolist(), strict=True):
            if date(2023, 1, 1) <= d <= JUN4 and d != JUN3:
                lines.append(f"{symbol},{d},{o!r},{h!r},{lo!r},{c!r},100000")
    data = tmp_path / "prices.csv"
    data.write_text("\n".join(lines) + "\n")
    settings = load_settings(None, data_dir=tmp_path, data=str(data), data_wait_minutes=30)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = LiveBars(open_bar_source(str(data), cache_dir=tmp_path / "cache", parse_in_child=True))
    store = Store.open(f"sqlite:///{tmp_path / 'r.sqlite'}")
    clock = SimClock(at(JUN3, 8, 0))
    alerts: list[NotificationKind] = []
    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=paper_broker(settings, store, clock, bars, calendar),
                            hooks=ServiceHooks(notify=lambda k, t, b: alerts.append(k)))
    attach_feed(service, settings, bars)

    service.scheduler.run(start_day=JUN3, until=at(JUN5, 17, 0))
    with store.connect() as conn:
        rows = conn.exec_driver_sql("select trading_date, status, error from task_runs "
                                    "where task = 'analysis' order by trading_date").all()
    runs = {d: (status, error) for d, status, error in rows}
    assert runs["2024-06-03"][0] == "failed" and "no_data_for_as_of: 2024-06-03" in runs["2024-06-03"][1]
    assert runs["2024-06-04"] == ("succeeded", None)
    assert runs["2024-06-05"][0] == "skipped"
    assert runs["2024-06-05"][1].startswith("prices end 2024-06-04: nothing new to analyse")
    assert alerts.count(NotificationKind.DATA_MISSING) == 1  # 3 June only
    assert clock.now() >= at(JUN5, 16, 0)
