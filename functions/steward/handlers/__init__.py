"""Lambda entry points: parse the event, call one domain function through the adapters, report.

Loading a handler builds some 45,000 objects that live as long as the container: boto3's service models, pydantic,
Powertools, Steward's modules. Python's cyclic garbage collector would walk them again and again while they load (some
7 % of the cold start) and again at every full collection of every invocation. So the collector is paused from here,
the first module Lambda loads, until the handler module's last line calls `loaded()`, which freezes what loaded and
starts the collector again: the early `gc.disable()`, later `gc.freeze()` pattern of Python's `gc` documentation. A
frozen object is never collected; what a cold start builds is kept for the container's life anyway.
"""

import gc

gc.disable()


def loaded() -> None:
    """The last line of every handler module: what loading built is frozen out of every later collection, and the
    collector runs again for what invocations allocate."""
    gc.freeze()
    gc.enable()
