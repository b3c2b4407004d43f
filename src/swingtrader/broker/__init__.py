"""Brokers behind one protocol: the paper exchange, Kotak Neo over REST, and the session that shares a login."""
