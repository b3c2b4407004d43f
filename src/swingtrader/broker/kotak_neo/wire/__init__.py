"""The Kotak Neo wire format, in one place: every path, header, request field, response field and status
string, and the translation of replies into domain objects or typed errors. Nothing outside this package
reads a Kotak payload.

- `outbound`: endpoints (method, path, which credentials), headers and `jData` fields, as the official SDK
  3.0.9 sends them (header names and case, numbers as strings, prices with two decimals, market price "0").
- `inbound`: `classify(endpoint, status, body)` -> a typed error or None, and the parsers (order book, trade
  book, holdings, positions, limits, quotes, login replies). An unknown `ordSt` is `MalformedResponse`;
  stCode 5203 is an empty book; 1021 on modify/cancel is `OrderCompleted`.
- `master`: the instrument master CSV (symbol <-> token, lot size, tick size; stray spaces stripped).
Facts: `../shared/docs/KOTAK_NEO_API.md`.
"""
