"""What a delivery handler raises to tell the worker how a failed delivery should continue."""

from __future__ import annotations


class RetryLater(Exception):
    """A passing failure (timeout, 5xx, 429). `retry_after` is the platform's own wish, in seconds.

    `counts` is False for rate limiting: waiting our turn is not a failed attempt, so a burst
    that the platform throttles never dead-letters a message.
    """

    def __init__(self, reason: str, *, retry_after: float | None = None, counts: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.counts = reason, retry_after, counts


class PermanentFailure(Exception):
    """Retrying cannot help (bad token, channel gone). `reason` says what an operator must fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
