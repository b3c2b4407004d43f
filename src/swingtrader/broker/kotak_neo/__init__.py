"""Kotak Neo: the REST client (`KotakNeoBroker`), its credentials, and a fake server for tests and demos.

The fake (`fake_server`, `harness`) is imported from its own modules, so the live client stays light.
"""

from swingtrader.broker.kotak_neo.auth import KotakCredentials
from swingtrader.broker.kotak_neo.client import KotakNeoBroker
from swingtrader.broker.kotak_neo.wire.inbound import Position
from swingtrader.broker.kotak_neo.wire.master import Instrument

__all__ = ["Instrument", "KotakCredentials", "KotakNeoBroker", "Position"]
