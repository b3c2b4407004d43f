"""Run `swingtrader simulate`, SIGKILL-ing the process itself around the N-th order sent to the exchange.

Usage: python crash_simulate.py N before|after -- <simulate arguments>
`before`: the order manager has written its intent (outbox) but the exchange has not seen the order;
`after`: the exchange has accepted the order but the reply never reaches the order manager.
"""

import os
import signal
import sys

from swingtrader.broker import paper
from swingtrader.cli import main

target, when = int(sys.argv[1]), sys.argv[2]
args = sys.argv[sys.argv.index("--") + 1:]
original = paper.PaperBroker.place_order
calls = 0


def place_order(self, request):
    global calls
    calls += 1
    if calls == target and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    order_id = original(self, request)
    if calls == target and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return order_id


paper.PaperBroker.place_order = place_order
sys.exit(main(["simulate", *args]))
