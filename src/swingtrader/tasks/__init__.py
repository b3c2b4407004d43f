"""The seven tasks. Each is `run(ctx: TaskContext, slot: Slot) -> dict` (a JSON-able summary for the ledger),
and each starts by reconciling with the broker, so re-running an interrupted slot is safe."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from swingtrader.schedule import TASKS

if TYPE_CHECKING:
    from swingtrader.schedule import Slot
    from swingtrader.tasks.context import TaskContext

__all__ = ["TASKS", "TaskFunction", "task_function"]

TaskFunction = Callable[["TaskContext", "Slot"], dict[str, Any]]


def task_function(name: str) -> TaskFunction:
    """The `run` function of a task by its fixed name; `KeyError` naming the task if unknown."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; tasks are: {', '.join(TASKS)}")
    run: TaskFunction = import_module(f"swingtrader.tasks.{name}").run
    return run
