"""SQLite's WAL checkpoints run on a thread of their own (storage/checkpoint.py), not in the loop's commits.

What must hold: the WAL stays short under steady writes (it would grow without end if only passive
checkpoints ran), no write fails or is lost while checkpoints take the lock, and the app's serving
connection leaves the work to the thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from handoff_bot import keys
from handoff_bot.app import build_app
from handoff_bot.clock import ManualClock
from handoff_bot.config import load_settings
from handoff_bot.domain.contacts import Channel
from handoff_bot.services.commands import CustomerDetails, ReceiveContact
from handoff_bot.services.contacts import receive_contact
from handoff_bot.storage.checkpoint import (
    LOOP_PAGES,
    WalCheckpointer,
    checkpoint_in_background,
    database_file,
)
from handoff_bot.storage.db import create_engine, session_factory
from handoff_bot.storage.migrate import upgrade_database
from handoff_bot.storage.models import ContactRow
from handoff_bot.storage.uow import SqlUnitOfWorkFactory

PAGE = 4096
ROW = "x" * 3000  # most of a page, so every transaction adds frames to the WAL


def _writer(path: Path, autocheckpoint: int) -> sqlite3.Connection:
    """A connection that writes as the serving one does, checkpointing itself at `autocheckpoint` pages."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    return conn


def _write(conn: sqlite3.Connection, transactions: int) -> None:
    for n in range(transactions):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"{n}{ROW}",)] * 4)
        conn.execute("COMMIT")
        time.sleep(0.0002)  # the serving loop parses the next requests between two transactions


def _pages(path: Path, suffix: str = "") -> int:
    file = path.with_name(path.name + suffix)
    return file.stat().st_size // PAGE if file.exists() else 0


def _write_beside_the_thread(path: Path, autocheckpoint: int) -> sqlite3.Connection:
    """1,600 rows of most of a page each while a checkpointer runs; the writer's connection, still open."""
    conn = _writer(path, autocheckpoint)
    checkpointer = WalCheckpointer(str(path), interval=0.002)
    checkpointer.start()
    try:
        _write(conn, 400)
    finally:
        checkpointer.stop()
    assert checkpointer.passes > 0 and checkpointer.failures == 0
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (1600,)
    return conn


def test_the_thread_copies_the_wal_into_the_database_file(tmp_path: Path) -> None:
    alone, helped = tmp_path / "alone.db", tmp_path / "helped.db"
    control = _writer(alone, autocheckpoint=0)  # kept open: closing it would checkpoint
    _write(control, 400)
    conn = _write_beside_the_thread(helped, autocheckpoint=0)
    # Without the thread every page is still only in the WAL; with it, the writer never checkpointed
    # and yet they are in the database file.
    assert _pages(alone, "-wal") > 1600 and _pages(alone) < 10
    assert _pages(helped) > 1400  # all but what came after its last pass
    control.close()
    conn.close()


def test_the_writers_own_checkpoint_keeps_the_wal_short(tmp_path: Path) -> None:
    """The thread's passive checkpoints seldom let SQLite start the WAL over under steady writes;
    the writer's checkpoint at a higher mark does, and costs it little, the thread having copied most."""
    path = tmp_path / "steady.db"
    conn = _write_beside_the_thread(path, autocheckpoint=300)
    assert _pages(path, "-wal") < 600  # the control test's WAL passed 1,600 pages
    conn.close()


def test_the_thread_waits_for_the_serving_connection_to_make_the_file(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    checkpointer = WalCheckpointer(str(path), interval=0.002)
    checkpointer.start()
    try:
        time.sleep(0.05)
        assert not path.exists()  # it creates no file of its own
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        time.sleep(0.05)
        # Not in WAL mode yet: the thread keeps away, so switching (which needs the file alone) works.
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
        _write(conn, 50)
        time.sleep(0.05)
    finally:
        checkpointer.stop()
    assert checkpointer.passes > 0 and checkpointer.failures == 0
    conn.close()


def test_a_database_file_is_needed(tmp_path: Path) -> None:
    file_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    assert database_file(file_engine) == str(tmp_path / "a.db")
    for url in (
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:shared?mode=memory&cache=shared&uri=true",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    ):
        assert database_file(create_engine(url)) is None, url


async def test_intakes_racing_constant_checkpoints_are_all_stored(tmp_path: Path) -> None:
    """Checkpoints as often as the thread can run them; every intake still lands, none fails."""
    path = tmp_path / "race.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_database(engine)
    sessions = session_factory(engine)
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    uow = SqlUnitOfWorkFactory(sessions, platforms=("fake",), clock=clock)
    checkpointer = WalCheckpointer(str(path), interval=0.0005)
    checkpointer.start()
    try:
        for wave in range(10):
            results = await asyncio.gather(
                *(
                    receive_contact(
                        ReceiveContact(
                            Channel.EMAIL,
                            "api",
                            CustomerDetails(email=f"k{wave}-{n}@example.org"),
                            subject=f"vraag {wave}-{n}",
                            body=ROW,
                            external_id=f"{wave}-{n}",
                        ),
                        uow=uow,
                        clock=clock,
                    )
                    for n in range(40)
                ),
                return_exceptions=True,
            )
            assert [r for r in results if isinstance(r, BaseException)] == []
            await asyncio.sleep(0.002)  # let the thread run between waves, too
    finally:
        checkpointer.stop()
    assert checkpointer.passes > 0 and checkpointer.failures == 0
    async with sessions() as s:
        assert await s.scalar(select(func.count(ContactRow.id))) == 400
    await engine.dispose()


async def test_the_app_leaves_checkpoints_to_the_thread_and_stops_it(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{path}")
    app = build_app(settings, run_worker=False)
    async with TestClient(TestServer(app)):
        assert _running()
        async with app[keys.ENGINE].connect() as conn:
            pages = await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")
            assert pages.scalar() == LOOP_PAGES
    assert not _running()
    # The thread's connection closed first, so the engine's, the last one, removed the WAL.
    assert not path.with_name(path.name + "-wal").exists()


async def test_an_in_memory_database_runs_no_thread() -> None:
    settings = load_settings(database_url="sqlite+aiosqlite://")
    app = build_app(settings, run_worker=False)
    async with TestClient(TestServer(app)):
        assert not _running()


async def test_the_thread_starts_with_the_first_connection_and_not_after_it_stopped(tmp_path: Path) -> None:
    """The serving connection opens the file first: it switches it to WAL and recovers a WAL a crash
    left behind, which it cannot do while another connection holds the file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'first.db'}")
    checkpointer = checkpoint_in_background(engine)
    assert checkpointer is not None
    try:
        assert not _running()
        async with engine.connect() as conn:
            pages = await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")
            assert pages.scalar() == LOOP_PAGES
        assert _running()
    finally:
        checkpointer.stop()
    assert not _running()
    checkpointer.start()
    assert not _running()
    await engine.dispose()


def _running() -> bool:
    return any(t.name == "sqlite-checkpoint" for t in threading.enumerate())
