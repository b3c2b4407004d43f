"""The seven task names, fixed by ARCHITECTURE.md (scripts, settings and the dashboard depend on them)."""

TASK_NAMES = (
    "premarket_retry",
    "place_sell_orders",
    "monitor_sell_orders",
    "position_monitor",
    "analysis",
    "place_buy_orders",
    "eod_cleanup",
)
