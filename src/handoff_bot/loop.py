"""The event loop every command runs on: uvloop where it is installed, asyncio's own otherwise.

Why: the server spends a large share of its time in the loop and its transports (reading requests,
writing responses, waking waiters). With uvloop the intake benchmark served 12 % more contacts per
second on the same core (docs/benchmarks.md). It is a dependency everywhere it builds (not on Windows);
where it is missing the standard loop behaves the same, only slower.
"""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
