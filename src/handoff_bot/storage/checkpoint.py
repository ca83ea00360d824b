"""SQLite's WAL checkpoints on a thread of their own, so the event loop does not copy pages and sync.

SQLite runs on the event loop (sqlite_driver.py). Its automatic checkpoint runs inside a commit: once the
WAL holds a thousand pages, that commit copies them into the database file and syncs it, with the loop
stopped. In a 10 s intake run that was 109 of 1,886 commits, 5-8 ms each: 0.68 s of the 10. Here a thread
with its own connection copies them; sqlite3 releases the GIL while SQLite copies and syncs, so the loop
goes on serving.

The thread's checkpoints are PASSIVE: they never hold up a writer. But SQLite starts the WAL over only
when a write begins after a checkpoint has copied all of it, and under steady writes the thread's pass
seldom ends between two commits. So the serving connection keeps its own automatic checkpoint, at a
higher mark (LOOP_PAGES): by the time a commit reaches it the thread has copied nearly everything, so that
commit copies only the last few pages, and the next write starts the log over. (A RESTART checkpoint
from the thread would do it too, but it holds the write lock while it works; in one intake run of five
the loop's writer, backing off, made 2,098 contacts/s instead of 3,700-4,700.)
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
INTERVAL = 0.05  # seconds between checkpoints: at 10,000 pages a second, 500 pages each
LOOP_PAGES = 4000  # 16 MiB of 4 KiB pages: where the serving connection checkpoints (and restarts) itself
LOCK_WAIT = 2.0  # seconds to wait for a lock held by a connection that is being opened or recovered


def database_file(engine: AsyncEngine) -> str | None:
    """The file of a SQLite engine; None for PostgreSQL and for in-memory databases."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:") or url.query.get("mode") == "memory":
        return None  # URI forms: the serving connection alone knows what they name
    return url.database


class WalCheckpointer:
    """A daemon thread checkpointing one database file every `interval` seconds until stopped."""

    def __init__(self, path: str, *, interval: float = INTERVAL) -> None:
        self._path, self._interval = path, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self.passes = 0  # checkpoints run while the WAL held frames
        self.failures = 0

    def start(self) -> None:
        """Start the thread, once; not after stop()."""
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()

    def stop(self) -> None:
        """Stop and close the thread's connection (before the engine's, so that one removes the WAL)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=LOCK_WAIT + 1)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self._interval):
                try:
                    if conn is None:
                        conn = self._connect()
                    if conn is not None:
                        self.checkpoint(conn)
                except sqlite3.Error as exc:
                    # A disk error or a file replaced under us: the serving connection's own automatic
                    # checkpoint still runs; try again with a new connection next time.
                    self.failures += 1
                    if self.failures == 1 or self.failures % 1000 == 0:
                        log.warning("WAL checkpoint failed (%s: %s)", type(exc).__name__, exc)
                    if conn is not None:
                        conn.close()
                        conn = None
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> sqlite3.Connection | None:
        """A connection once the serving one has put the file in WAL mode (until then the file may not
        exist, and a reader would hold up the switch to WAL, which needs the file to itself)."""
        if not os.path.exists(self._path + "-wal"):
            return None
        conn = sqlite3.connect(self._path, timeout=LOCK_WAIT, isolation_level=None)
        if conn.execute("PRAGMA journal_mode").fetchone() != ("wal",):
            conn.close()
            return None
        return conn

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """One pass: copy into the database file what the WAL holds now."""
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if row is not None and row[1] > 0:  # (busy, frames in the WAL, frames copied); -1 off WAL mode
            self.passes += 1


def checkpoint_in_background(engine: AsyncEngine) -> WalCheckpointer | None:
    """A checkpointer for a SQLite file engine (None otherwise); call it before the first connection,
    so every connection of the engine defers to it. Stop it before disposing the engine."""
    path = database_file(engine)
    if path is None:
        return None
    checkpointer = WalCheckpointer(path)

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        raw: sqlite3.Connection = dbapi_connection._connection.sqlite
        raw.execute(f"PRAGMA wal_autocheckpoint={LOOP_PAGES}")
        # Only now: the serving connection has opened the file, switched it to WAL and recovered a WAL
        # left by a crash, which it could not do while another connection held the file.
        checkpointer.start()

    return checkpointer
