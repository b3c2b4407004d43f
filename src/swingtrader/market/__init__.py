"""Market facts and data: the trading calendar, tick sizes, costs and daily bars."""
