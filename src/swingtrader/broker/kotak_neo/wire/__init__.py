"""The Kotak Neo wire format, in one place: every path, header, request field, response field and status
string, and the translation of replies into domain objects or typed errors. Nothing outside this package
reads a Kotak payload.

- `outbound`: endpoints (method, path, which credentials), headers and `jData` fields, as the official SDK
  3.0.9 sends them (header names and case, numbers as strings, prices with two decimals, market price "0").
- `replies`: the one reply table, (HTTP status, stCode, errMsg / stat) -> outcome, a line of evidence per row;
  `classify(endpoint, status, body)` -> a typed error or None. Success only on `stat` "Ok" (any case).
- `inbound`: the parsers (order book, trade book, holdings, positions, limits, quotes, login replies), tolerant
  of what they read: statuses are an open set (an unknown one is `UNKNOWN`, still active), an unreadable book
  row is skipped and named by order number, a refused instrument drops out of a quote batch.
- `master`: the instrument master CSV (symbol <-> token, lot size, tick size in paise; stray spaces stripped).
Facts: `../shared/docs/KOTAK_NEO_API.md`.
"""
