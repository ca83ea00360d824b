"""The outbox worker: leases due rows, runs their handlers, settles them (done, retry, dead)."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from handoff_bot.metrics import Metrics
from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.services.ports import Clock, OutboxMessage
from handoff_bot.storage.outbox import Completion, OutboxStore

log = logging.getLogger(__name__)

Handler = Callable[[OutboxMessage], Awaitable[Completion | None]]


class Handlers:
    """Platform rows go to that platform's handler; platform-less rows (timers) by kind."""

    def __init__(self) -> None:
        self._platforms: dict[str, Handler] = {}
        self._kinds: dict[str, Handler] = {}

    def add_platform(self, platform: str, handler: Handler) -> None:
        self._platforms[platform] = handler

    def add_kind(self, kind: str, handler: Handler) -> None:
        self._kinds[kind] = handler

    def for_message(self, message: OutboxMessage) -> Handler | None:
        if message.platform is not None:
            return self._platforms.get(message.platform)
        return self._kinds.get(message.kind)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, so retrying workers do not stampede together."""

    base: float = 2.0
    cap: float = 900.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return rng.uniform(ceiling / 2, ceiling)


class OutboxWorker:
    def __init__(
        self,
        store: OutboxStore,
        handlers: Handlers,
        clock: Clock,
        *,
        worker_id: str | None = None,
        max_attempts: int = 10,
        lease_seconds: float = 60,
        batch: int = 20,
        poll_seconds: float = 1.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store, self.handlers, self.clock = store, handlers, clock
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self.max_attempts, self.batch, self.poll_seconds = max_attempts, batch, poll_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.metrics = metrics
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: deliver now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Lease one batch and settle every row in it; returns how many rows were handled."""
        messages = await self.store.lease(self.worker_id, self.batch, self.lease)
        # Rows in one batch never share a key (the lease skips rows behind a pending one), so
        # they are independent and can be delivered concurrently.
        await asyncio.gather(*(self._process(m) for m in messages))
        return len(messages)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Run until nothing is due (tests and the CLI); returns the number of rows handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            if not handled:
                break
            total += handled
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`, keeping up to `batch` rows in flight: more rows are leased as soon as
        half of them have settled, so a slow or paced channel never sits idle between batches."""
        log.info("outbox worker %s started", self.worker_id)
        inflight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                # Cleared before leasing, not after: a commit that lands while a lease is reading must
                # still wake the next round (clearing afterwards lost that wake-up until the next poll).
                self._wake.clear()
                leased = 0
                if len(inflight) <= self.batch // 2:
                    try:
                        messages = await self.store.lease(
                            self.worker_id, self.batch - len(inflight), self.lease
                        )
                    except Exception:
                        # The database may be briefly away; keep the worker alive and try again.
                        log.exception("outbox worker %s could not lease rows; retrying", self.worker_id)
                        messages = []
                    # Rows leased together never share a key, nor with rows still in flight (the
                    # lease skips rows behind a pending one): they can be delivered concurrently.
                    inflight |= {asyncio.create_task(self._process(m)) for m in messages}
                    leased = len(messages)
                if leased and len(inflight) <= self.batch // 2:
                    continue
                waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
                done, _ = await asyncio.wait(
                    waiters | inflight, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()
                for task in done & inflight:
                    if not task.cancelled() and task.exception() is not None:
                        # Settling failed (database away): the row's lease runs out and it comes back.
                        log.error(
                            "outbox worker %s could not settle a row: %r", self.worker_id, task.exception()
                        )
                inflight -= done
        finally:
            if inflight:
                _, unfinished = await asyncio.wait(inflight, timeout=5)
                for task in unfinished:
                    task.cancel()  # its lease runs out; the next worker delivers it (checking first)
                await asyncio.gather(*inflight, return_exceptions=True)
        log.info("outbox worker %s stopped", self.worker_id)

    async def _process(self, message: OutboxMessage) -> None:
        handler = self.handlers.for_message(message)
        if handler is None:
            where = f"platform {message.platform}" if message.platform else f"kind {message.kind}"
            await self._dead(message, f"no handler for {where}; is it configured in this process?")
            return
        try:
            completion = await handler(message)
        except RetryLater as exc:
            await self._retry(message, exc.reason, exc.retry_after, counts=exc.counts)
        except PermanentFailure as exc:
            await self._dead(message, exc.reason)
        except Exception as exc:
            incident = uuid.uuid4().hex[:12]
            log.exception(
                "outbox row %s (%s) failed unexpectedly [incident %s]", message.id, message.kind, incident
            )
            await self._retry(
                message, f"unexpected {type(exc).__name__} [incident {incident}]", None, counts=True
            )
        else:
            if await self.store.complete(message, completion):
                if self.metrics:
                    self.metrics.outbox_delivered.labels(message.kind).inc()
            else:
                log.warning("outbox row %s was settled by someone else while we delivered it", message.id)

    async def _retry(
        self, message: OutboxMessage, reason: str, retry_after: float | None, *, counts: bool
    ) -> None:
        if counts and message.attempts >= self.max_attempts:
            await self._dead(message, f"gave up after {message.attempts} attempts: {reason}")
            return
        if retry_after is not None:
            # Honour the platform's wish, plus a little spread so waiting rows do not return at once.
            delay = retry_after + self.rng.uniform(0, min(1.0, retry_after * 0.1))
        else:
            delay = self.backoff.delay(message.attempts, self.rng)
        await self.store.retry(
            message, self.clock.now() + timedelta(seconds=delay), reason, refund=not counts
        )
        if self.metrics:
            self.metrics.outbox_failures.labels(message.kind, "retry").inc()
        log.info("outbox row %s (%s) will retry in %.1fs: %s", message.id, message.kind, delay, reason)

    async def _dead(self, message: OutboxMessage, reason: str) -> None:
        await self.store.dead(message, reason)
        if self.metrics:
            self.metrics.outbox_failures.labels(message.kind, "dead").inc()
        log.error(
            "outbox row %s (%s, %s) dead-lettered: %s", message.id, message.kind, message.platform, reason
        )
