"""Trading strategies: pure decision code (bars in, decisions out) with its indicators and settings."""
