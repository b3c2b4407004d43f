"""The order path: the only way from a task's decision to the broker's order entry.

A task hands `OrderManager.place` one `OrderIntent` and gets one `Outcome` back (placed, refused with a reason,
in doubt, cancelled). Inside, one module per reason to change: `intent` (what a task asks, what it gets back),
`state` (the order state machine as a table), `risk` (checks before an intent is stored or sent), `ledger` (the
stored orders: the outbox), `relay` (sending, and the never-twice lookup of orders in doubt), `books` (the
broker's view of an order applied locally: status and fills), `manager` (the facade tying them together).
"""
