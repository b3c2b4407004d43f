"""swingtrader: one long-running process that swing-trades an NSE account on the exchange calendar."""

__version__ = "0.1.0"
