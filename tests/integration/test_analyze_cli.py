"""`swingtrader analyze` as a user runs it: every symbol's verdict is recomputed here from the CSV files."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

RULE_ORDER = ["no_bar_on_as_of", "insufficient_history", "rsi_not_oversold", "below_ema200", "low_avg_volume",
              "low_volume_ratio"]


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "swingtrader", "analyze", *args],
                          capture_output=True, text=True, timeout=120)


# --- an independent implementation of STRATEGY.md, straight from the definitions -------------------------------------


def wilder_rsi(closes: list[float], period: int = 10) -> float:
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gain = sum(max(c, 0.0) for c in changes[:period]) / period
    loss = sum(max(-c, 0.0) for c in changes[:period]) / period
    for c in changes[period:]:
        gain, loss = (gain * (period - 1) + max(c, 0.0)) / period, (loss * (period - 1) + max(-c, 0.0)) / period
    return 100.0 if loss == 0 else 100.0 * gain / (gain + loss)


def ema_last(closes: list[float], n: int) -> float:
    value = sum(closes[:n]) / n
    for c in closes[n:]:
        value += (c - value) * 2 / (n + 1)
    return value


def verdict(path: Path, as_of: str) -> tuple[str | None, dict]:
    """(first rule failed or None for a candidate, indicator values) for one symbol file on `as_of`."""
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["date"] <= as_of]
    if not rows or rows[-1]["date"] != as_of:
        return "no_bar_on_as_of", {}
    if len(rows) < 250:
        return "insufficient_history", {}
    closes, volumes = [float(r["close"]) for r in rows], [float(r["volume"]) for r in rows]
    avg = sum(volumes[-51:-1]) / 50
    values = {"close": closes[-1], "rsi10": wilder_rsi(closes), "ema9": ema_last(closes, 9),
              "ema200": ema_last(closes, 200), "avg_volume_50": avg, "volume_ratio": volumes[-1] / avg}
    failed = [values["rsi10"] >= 30, values["close"] <= values["ema200"], avg < 150_000,
              values["volume_ratio"] < 1.0]
    return next((RULE_ORDER[2 + i] for i, f in enumerate(failed) if f), None), values


# --- the command ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2022-01-27", "2024-06-04"])
def test_json_report_matches_the_rules_recomputed_from_the_csv(nifty_dir: Path, as_of: str) -> None:
    run = analyze("--as-of", as_of, "--data", str(nifty_dir), "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert set(report) == {"as_of", "symbols_analysed", "candidates", "rejected", "warnings"}
    assert report["as_of"] == as_of and report["symbols_analysed"] == 50 and report["warnings"] == []
    assert set(report["rejected"]) <= set(RULE_ORDER)

    seen = {c["symbol"]: None for c in report["candidates"]}
    for reason, symbols in report["rejected"].items():
        seen.update(dict.fromkeys(symbols, reason))
    files = {p.stem: p for p in nifty_dir.glob("*.csv")}
    assert sorted(seen) == sorted(files) and sum(len(v) for v in report["rejected"].values()) + len(
        report["candidates"]) == 50

    for symbol, path in files.items():
        expected, _ = verdict(path, as_of)
        assert seen[symbol] == expected, symbol
    assert report["candidates"], "the chosen days have candidates"
    for c in report["candidates"]:
        _, values = verdict(files[c["symbol"]], as_of)
        for key, value in values.items():
            assert c[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (c["symbol"], key)
        assert c["rsi10"] < 30 and c["close"] > c["ema200"]
        assert c["avg_volume_50"] >= 150_000 and c["volume_ratio"] >= 1.0
    scores = [c["score"] for c in report["candidates"]]
    assert scores == sorted(scores, reverse=True)


def test_default_data_is_the_bundled_nifty_50(nifty_dir: Path) -> None:
    bundled = analyze("--as-of", "2022-01-27", "--json")
    direct = analyze("--as-of", "2022-01-27", "--data", str(nifty_dir), "--json")
    assert bundled.returncode == direct.returncode == 0
    assert json.loads(bundled.stdout) == json.loads(direct.stdout)


def test_table_output_lists_candidates_and_rejections() -> None:
    run = analyze("--as-of", "2022-01-27")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("as of 2022-01-27: 50 symbols analysed, 8 candidates")
    assert "ASIANPAINT" in run.stdout and "rejected: no_bar_on_as_of 1" in run.stdout


def test_no_volume_is_reported_as_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "u.csv"
    data.write_text("symbol,date,open,high,low,close\nX,2024-01-01,10,11,9,10\n")
    run = analyze("--as-of", "2024-01-01", "--data", str(data), "--json")
    report = json.loads(run.stdout)
    assert report["rejected"] == {"insufficient_history": ["X"]}
    assert any("no volume" in w for w in report["warnings"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2024-02-30"], "error: --as-of: invalid date '2024-02-30'"),
        (["--as-of", "2024-01-01", "--data", "/nonexistent/bars"], "error: /nonexistent/bars: no such file"),
    ],
)
def test_bad_input_exits_2_with_a_message(args: list[str], message: str) -> None:
    run = analyze(*args)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith(message)


def test_a_bad_data_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "OK.csv").write_text("date,open,high,low,close\n2024-01-01,1,1,1,1\n")
    (tmp_path / "M&M.csv").write_text("date,open,high,low,close\n2024-01-01,1,1,1,1\n2024-01-03,1,1,1,\n")
    run = analyze("--as-of", "2024-01-01", "--data", str(tmp_path))
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {tmp_path / 'M&M.csv'}: line 3: close on 2024-01-03: empty or NaN"
