"""Kotak Neo client costs, measured in one run:

1. client overhead per order round trip against the fake on loopback: `KotakNeoBroker.place_order` versus a raw
   httpx POST of the same request (same URL, headers and form body) to the same server;
2. import time and RSS growth of `swingtrader.broker.kotak_neo.client` versus the official SDK
   (`import neo_api_client`), each in fresh subprocesses.

Run: `.venv/bin/python bench/bench_kotak_client.py [--orders N] [--imports N]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
from pydantic import SecretStr

from swingtrader.broker.base import Fill, Funds, Holding, Order, OrderRequest, OrderType, Quote, SessionInfo, Side
from swingtrader.broker.kotak_neo.harness import client_for, start_fake
from swingtrader.broker.kotak_neo.wire import outbound as tx
from swingtrader.clock import IST, SimClock

_IMPORT_PROBE = """
import json, sys, time
def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
before = rss(); t0 = time.perf_counter()
import {module}
print(json.dumps({{"seconds": time.perf_counter() - t0, "rss_mib": rss() - before}}))
"""


class _AcceptingExchange:
    """Accepts every order (the bench measures the HTTP path, not matching)."""

    name = "bench"

    def __init__(self) -> None:
        self._n = 0

    def login(self) -> SessionInfo:
        return SessionInfo(SecretStr("x"), datetime(2100, 1, 1, tzinfo=IST))

    def place_order(self, request: OrderRequest) -> str:
        self._n += 1
        return str(self._n)

    def modify_order(self, order_id: str, **_: object) -> None: ...
    def cancel_order(self, order_id: str) -> None: ...
    def orders(self) -> list[Order]: return []
    def fills(self) -> list[Fill]: return []
    def holdings(self) -> list[Holding]: return []
    def funds(self) -> Funds: return Funds(Decimal(0))
    def quotes(self, symbols: list[str]) -> dict[str, Quote]: return {}


def _timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_round_trip(n: int) -> dict[str, float]:
    clock = SimClock(datetime(2025, 3, 4, 10, 0, tzinfo=IST))
    with start_fake(_AcceptingExchange(), clock) as fake, client_for(fake, clock, orders_per_second=1e9,
                                                                     reads_per_second=1e9) as client:
        client.login()
        ins = client.instrument("RELIANCE")
        request = OrderRequest("RELIANCE", Side.BUY, 1, OrderType.LIMIT, Decimal("2900.00"), "B0000000")
        serial = itertools.count(1)  # Kotak refuses a tag it saw today: every order gets its own, on both paths

        def fresh() -> OrderRequest:
            return replace(request, tag=f"B{next(serial):07d}")

        session = client._session  # the raw baseline sends exactly what the client sends
        assert session is not None and ins is not None
        headers = tx.headers(tx.PLACE, consumer_key=fake.credentials.consumer_key.get_secret_value(),
                             sid=session.sid, token=session.token)
        url = f"{session.base_url}/{tx.PLACE.path}"
        symbol = ins.trading_symbol

        with httpx.Client() as raw:
            def raw_place() -> object:
                return raw.post(url, headers=headers, data=tx.form_body(tx.place_fields(fresh(), symbol))).json()

            for _ in range(50):  # warm both paths
                raw_place()
                client.place_order(fresh())
            raw_times = _timed(raw_place, n)
            client_times = _timed(lambda: client.place_order(fresh()), n)
    raw_med, client_med = statistics.median(raw_times), statistics.median(client_times)
    return {"orders": n, "raw_httpx_median_ms": raw_med * 1e3, "client_median_ms": client_med * 1e3,
            "client_overhead_median_us": (client_med - raw_med) * 1e6,
            "raw_httpx_p90_ms": statistics.quantiles(raw_times, n=10)[-1] * 1e3,
            "client_p90_ms": statistics.quantiles(client_times, n=10)[-1] * 1e3}


def bench_import(module: str, runs: int) -> dict[str, float]:
    env = {**os.environ, "NEO_LOG_FILE_ENABLED": "false", "NEO_LOG_LEVEL": "NOLOG"}
    results = []
    with tempfile.TemporaryDirectory() as cwd:  # the SDK may write files into its working directory
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE.format(module=module)], cwd=cwd, env=env,
                                 capture_output=True, text=True, timeout=120, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"module": module, "runs": runs,  # type: ignore[dict-item]
            "import_s_median": statistics.median(r["seconds"] for r in results),
            "rss_growth_mib_median": statistics.median(r["rss_mib"] for r in results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--imports", type=int, default=5)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rt = bench_round_trip(args.orders)
    print(f"order round trip on loopback ({rt['orders']} orders, medians): "
          f"raw httpx {rt['raw_httpx_median_ms']:.3f} ms,"
          f" KotakNeoBroker {rt['client_median_ms']:.3f} ms -> client overhead {rt['client_overhead_median_us']:.0f} us"
          f" (p90 raw {rt['raw_httpx_p90_ms']:.3f} ms, client {rt['client_p90_ms']:.3f} ms)")
    for module in ("swingtrader.broker.kotak_neo.client", "neo_api_client"):
        try:
            r = bench_import(module, args.imports)
        except subprocess.CalledProcessError as exc:
            print(f"import {module}: failed ({exc.stderr.strip().splitlines()[-1] if exc.stderr else exc})")
            continue
        print(f"import {module}: {r['import_s_median'] * 1e3:.0f} ms, RSS +{r['rss_growth_mib_median']:.1f} MiB"
              f" (median of {r['runs']} fresh processes)")
    print(f"bench took {timedelta(seconds=round(time.perf_counter() - started))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
