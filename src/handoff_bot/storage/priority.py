"""Pooled connections handed out to requests before background work (the outbox worker, timers).

Used for SQLite's one connection and for PostgreSQL's pool alike.

With one connection, FIFO hand-out made a click wait behind every card refresh the worker had queued
(hundreds after a burst of claims), which was the click benchmark's tail. Background work is marked with
a context variable; it waits while a request waits, unless it has waited longer than `PROMOTE_AFTER`,
so the worker slows down under load but is never starved.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from typing import Any, TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import Empty, Full, QueueCommon

T = TypeVar("T")
PROMOTE_AFTER = 0.05  # seconds a background waiter yields to requests before it takes its turn

_background: contextvars.ContextVar[bool] = contextvars.ContextVar("handoff_background", default=False)


def mark_background() -> None:
    """Mark the current context (and tasks created from it) as background work."""
    _background.set(True)


def background_context() -> contextvars.Context:
    """A copy of the current context marked as background, for `asyncio.create_task(context=...)`."""
    context = contextvars.copy_context()
    context.run(mark_background)
    return context


class _Waiter:
    __slots__ = ("future", "since")

    def __init__(self, future: asyncio.Future[Any], since: float) -> None:
        self.future, self.since = future, since


class PriorityQueue(QueueCommon[T]):
    """SQLAlchemy's pool queue interface; requests first, then background waiters, each FIFO."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        self.maxsize, self.use_lifo = maxsize, use_lifo  # order within a class is FIFO regardless
        self._items: deque[T] = deque()
        self._front: deque[_Waiter] = deque()
        self._back: deque[_Waiter] = deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return bool(self.maxsize) and len(self._items) >= self.maxsize

    def qsize(self) -> int:
        return len(self._items)

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)

    def put_nowait(self, item: T) -> None:
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.future.set_result(item)
            return
        if self.full():
            raise Full()
        self._items.append(item)

    def _next_waiter(self) -> _Waiter | None:
        for queue in (self._front, self._back):
            while queue and queue[0].future.done():
                queue.popleft()  # timed out or cancelled
        if self._back and (
            not self._front or asyncio.get_running_loop().time() - self._back[0].since > PROMOTE_AFTER
        ):
            return self._back.popleft()
        return self._front.popleft() if self._front else None

    def get_nowait(self) -> T:
        # A background caller does not take a free connection while a request waits for one.
        if not self._items or (_background.get() and self._front):
            raise Empty()
        return self._items.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        try:
            return self.get_nowait()
        except Empty:
            if not block:
                raise
        return await_(self._wait(timeout))

    async def _wait(self, timeout: float | None) -> T:  # noqa: ASYNC109 - SQLAlchemy's pool timeout
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        (self._back if _background.get() else self._front).append(_Waiter(future, loop.time()))

        def expire() -> None:
            if not future.done():
                future.set_exception(Empty())

        timer = loop.call_later(timeout, expire) if timeout is not None else None
        try:
            return await future
        except asyncio.CancelledError:
            # Handed a connection just as we were cancelled: give it to the next in line.
            if future.done() and not future.cancelled() and future.exception() is None:
                self.put_nowait(future.result())
            raise
        finally:
            if timer is not None:
                timer.cancel()


class PriorityPool(AsyncAdaptedQueuePool):
    """The async queue pool with `PriorityQueue` as its queue."""

    _queue_class = PriorityQueue  # type: ignore[assignment]
    # Log under SQLAlchemy's pool logger, not ours (which runs at INFO and would print every dispose).
    _sqla_logger_namespace = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"
