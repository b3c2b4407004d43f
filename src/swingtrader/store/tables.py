"""The schema. Changes go through an Alembic revision in `store/migrations/versions/`."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from swingtrader.store.types import Money, UtcDateTime

metadata = MetaData()

task_runs = Table(
    "task_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task", String(40), nullable=False),
    Column("trading_date", Date, nullable=False),
    Column("slot", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("scheduled_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("detail", JSON),
    UniqueConstraint("task", "trading_date", "slot", name="uq_task_runs_slot"),
    Index("ix_task_runs_date", "trading_date"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tag", String(32), nullable=False, unique=True),
    Column("broker_order_id", String(40)),
    Column("trading_date", Date, nullable=False),
    Column("task", String(40), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("order_type", String(8), nullable=False),
    Column("price", Money),
    Column("amo", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filled_quantity", Integer, nullable=False, default=0),
    Column("average_price", Money),
    Column("reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Index("ix_orders_status", "status"),
    Index("ix_orders_symbol", "symbol"),
    Index("ix_orders_intent", "trading_date", "task", "symbol", "side", "attempt"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("event", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", JSON),
    Index("ix_order_events_order", "order_id"),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price", Money, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("symbol", String(40), nullable=False),
    Column("status", String(8), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("average_price", Money, nullable=False),
    Column("cost", Money, nullable=False),
    Column("buy_charges", Money, nullable=False),
    Column("entry_date", Date, nullable=False),
    Column("last_buy_date", Date, nullable=False),
    Column("add_levels", JSON, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
    Column("note", Text),
    Index("ix_positions_status", "status"),
)

trades = Table(
    "trades",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("position_id", Integer, ForeignKey("positions.id"), nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("entry_date", Date, nullable=False),
    Column("entry_price", Money, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("exit_date", Date, nullable=False),
    Column("exit_price", Money, nullable=False),
    Column("exit_reason", String(24), nullable=False),
    Column("gross_pnl", Money, nullable=False),
    Column("charges", Money, nullable=False),
    Column("net_pnl", Money, nullable=False),
    Column("closed_at", UtcDateTime, nullable=False),
)

analysis_runs = Table(
    "analysis_runs",
    metadata,
    Column("as_of", Date, primary_key=True),
    Column("symbols_analysed", Integer, nullable=False),
    Column("rejected", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

recommendations = Table(
    "recommendations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("level", String(8), nullable=False),
    Column("close", Money, nullable=False),
    Column("rsi10", Money, nullable=False),
    Column("ema9", Money, nullable=False),
    Column("ema200", Money, nullable=False),
    Column("avg_volume_50", Money),
    Column("volume_ratio", Money),
    Column("score", Money, nullable=False),
    Column("detail", JSON),
    UniqueConstraint("as_of", "symbol", name="uq_recommendations_day_symbol"),
)

signals = Table(
    "signals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("trading_date", Date, nullable=False),
    Column("symbol", String(40), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", JSON),
)

session_events = Table(
    "session_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("broker", String(24), nullable=False),
    Column("event", String(24), nullable=False),
    Column("detail", Text),
)

service_state = Table(
    "service_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One owner per store (store/lease.py): a single row, id 1. `token` changes on every take-over (the fence).
instance_lease = Table(
    "instance_lease",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token", String(40), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("control_url", String(255)),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# What a store is for, written once at creation (store/identity.py): a single row, id 1.
store_identity = Table(
    "store_identity",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("account", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
)

# The paper broker's simulated exchange. Kept apart from the service's own records on purpose:
# the service must learn about the exchange only through the broker protocol.
paper_orders = Table(
    "paper_orders",
    metadata,
    Column("order_id", String(24), primary_key=True),
    Column("tag", String(32)),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("order_type", String(8), nullable=False),
    Column("price", Money),
    Column("amo", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filled_quantity", Integer, nullable=False),
    Column("average_price", Money),
    Column("blocked", Money, nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("session_date", Date, nullable=False),
    Column("reject_reason", Text),
    Index("ix_paper_orders_tag", "tag"),
    Index("ix_paper_orders_status", "status"),
)

paper_fills = Table(
    "paper_fills",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", String(24), nullable=False),
    Column("tag", String(32)),
    Column("symbol", String(40), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price", Money, nullable=False),
    Column("charges", Money, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

paper_holdings = Table(
    "paper_holdings",
    metadata,
    Column("symbol", String(40), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("average_price", Money, nullable=False),
    Column("last_buy_date", Date),
    Column("last_buy_quantity", Integer, nullable=False),
)

paper_account = Table(
    "paper_account",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cash", Money, nullable=False),
    Column("matched_until", UtcDateTime),
    Column("token_serial", Integer, nullable=False),
    Column("token_expires_at", UtcDateTime),
    Column("next_order_serial", Integer, nullable=False),
)
