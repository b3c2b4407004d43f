"""`simulate --report FILE.html` opens in a real headless Chromium: the verdict, the key metrics against the
benchmark, both cumulative-return lines, the underwater curve, monthly returns and the trade tables, each
matching the `--json` report of the same run. A screenshot is saved under test-output/tearsheet/."""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from swingtrader.cli import main
from tests.e2e.test_dashboard_browser import browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "tearsheet"


def test_the_tearsheet_opens_and_matches_the_report(browser, tmp_path):  # noqa: F811
    config = tmp_path / "config.env"
    config.write_text(f"SWINGTRADER_DATA_DIR={tmp_path / 'var'}\n")
    sheet, buf = tmp_path / "sheet.html", io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["simulate", "--config", str(config), "--start", "2024-01-01", "--end", "2024-03-29",
                     "--data", "bundled", "--json", "--report", str(sheet)]) == 0
    report = json.loads(buf.getvalue())
    h = report["headline"]
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        page.goto(sheet.as_uri())
        assert page.locator("#verdict").inner_text() == h["verdict"]
        metrics = {r.locator("th").inner_text(): [c.inner_text() for c in r.locator("td").all()]
                   for r in page.locator("#metrics tbody tr").all()}
        bench = float(Decimal(report["benchmark"]["final_value"]) / Decimal(h["capital"]) - 1)
        assert metrics["Total return"] == [f"{100 * h['total_return']:.2f}%", f"{100 * bench:.2f}%"]
        assert metrics["Max drawdown"][0] == f"{100 * report['max_drawdown']['fraction']:.2f}%"
        assert metrics["Sharpe"][0] == f"{report['sharpe']:.2f}"
        assert metrics["Closed trades"][0] == str(len(report["trades"]))
        assert metrics["Final equity"][0] == report["final_equity"]
        assert page.locator("#cumulative polyline.strategy").count() == 1
        assert page.locator("#cumulative polyline.benchmark").count() == 1
        assert page.locator("#underwater polygon").count() == 1
        months = [r.locator("th").inner_text() for r in page.locator("#monthly tbody tr").all()]
        assert months == ["2024"]
        jan_to_mar = [c.inner_text() for c in page.locator("#monthly tbody tr td").all()[:3]]
        assert all(c.endswith("%") for c in jan_to_mar)
        reasons = page.locator("#by-exit-reason tbody tr").count()
        assert reasons == len(h["by_exit_reason"]) and page.locator("#by-symbol tbody tr").count() == len(
            h["by_symbol"])
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "tearsheet.png"), full_page=True)
    finally:
        page.close()


def test_monthly_returns_and_worst_drawdowns_by_hand():
    from datetime import date

    from swingtrader.tearsheet import monthly_returns, worst_drawdowns

    days = [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2), date(2024, 3, 1)]
    equity = [Decimal(v) for v in ("95", "110", "99", "121", "110")]
    months = monthly_returns(days, equity, Decimal(100))
    assert months == pytest.approx({(2024, 1): 0.10, (2024, 2): 0.10, (2024, 3): -1 / 11})
    # falls: 100 -> 95 (recovered 01-31), 110 -> 99 (recovered 02-02), 121 -> 110 (not recovered)
    assert worst_drawdowns(days, equity, Decimal(100)) == [
        (date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2), pytest.approx(0.1)),
        (date(2024, 2, 2), date(2024, 3, 1), None, pytest.approx(1 / 11)),
        (date(2024, 1, 30), date(2024, 1, 30), date(2024, 1, 31), pytest.approx(0.05)),
    ]
