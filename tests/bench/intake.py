"""Benchmark 1: intake throughput and latency over HTTP, against the raw driver doing the same inserts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.common import TOKEN, cpu_seconds, percentile, served

CONCURRENCY = 32


def _contact(worker: int, n: int) -> dict[str, Any]:
    return {
        "channel": "email",
        "customer": {"name": f"Klant {worker}-{n}", "email": f"k{worker}-{n}@bench.example"},
        "subject": "Vraag over bestelling",
        "body": "Goedemiddag, waar blijft mijn bestelling? " * 4,
        "external_id": f"bench-{worker}-{n}",
    }


async def over_http(database_url: str, cwd: Path, seconds: float) -> dict[str, float]:
    async with served({"HANDOFF_DATABASE_URL": database_url}, cwd) as (url, proc):
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def client(worker: int, http: aiohttp.ClientSession) -> None:
            n = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with http.post(
                    f"{url}/api/contacts",
                    json=_contact(worker, n),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as response:
                    assert response.status == 201, await response.text()
                latencies.append((time.perf_counter() - started) * 1000)
                n += 1

        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        cpu_before = cpu_seconds(proc.pid)
        began = time.perf_counter()
        async with aiohttp.ClientSession(connector=connector) as http:
            await asyncio.gather(*(client(i, http) for i in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
        cpu = cpu_seconds(proc.pid) - cpu_before
    return {
        "per_s": len(latencies) / elapsed,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "count": len(latencies),
        "cpu_us": cpu / max(1, len(latencies)) * 1e6,  # the server's CPU per contact
    }


# The rows one intake writes: customer, identity, contact, timeline event, claim-reminder timer.
ROWS = [
    "INSERT INTO customers (name, company, created_at) VALUES ({p1}, NULL, {p2}) RETURNING id",
    "INSERT INTO customer_identities (customer_id, kind, value) VALUES ({p1}, 'email', {p2})",
    "INSERT INTO contacts (customer_id, channel, subject, body, received_at, source, external_id, status,"
    " version,"
    " created_at) VALUES ({p1}, 'email', {p2}, {p3}, {p4}, 'bench', {p5}, 'open', 1, {p6}) RETURNING id",
    "INSERT INTO timeline_events (contact_id, kind, at, data) VALUES ({p1}, 'received', {p2}, {p3})",
    "INSERT INTO outbox (kind, payload, status, due_at, attempts, created_at)"
    " VALUES ('timer.claim', {p1}, 'pending',"
    " {p2}, 0, {p3})",
]


def _sql(style: str) -> list[str]:
    marks = {f"p{i}": ("?" if style == "qmark" else f"${i}") for i in range(1, 7)}
    return [row.format(**marks) for row in ROWS]


def raw_sqlite(path: Path, seconds: float) -> float:
    """sqlite3, one transaction per contact: the fastest this file can take our rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sql = _sql("qmark")
    deadline, n = time.perf_counter() + seconds, 0
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
        conn.execute("BEGIN IMMEDIATE")
        customer = conn.execute(sql[0], (f"Klant {n}", now)).fetchone()[0]
        conn.execute(sql[1], (customer, f"raw{n}@bench.example"))
        contact = conn.execute(
            sql[2], (customer, "Vraag", "Goedemiddag " * 16, now, f"raw-{n}", now)
        ).fetchone()[0]
        conn.execute(sql[3], (contact, now, json.dumps({"channel": "email"})))
        conn.execute(sql[4], (json.dumps({"contact_id": contact, "step": 1}), now, now))
        conn.execute("COMMIT")
        n += 1
    conn.close()
    return n / (time.perf_counter() - began)


async def raw_asyncpg(dsn: str, seconds: float) -> float:
    """asyncpg with a pool of 32 connections, one transaction per contact."""
    import asyncpg

    sql = _sql("dollar")
    pool = await asyncpg.create_pool(dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)
    deadline = time.perf_counter() + seconds
    counts = [0] * CONCURRENCY

    async def worker(i: int) -> None:
        while time.perf_counter() < deadline:
            now = datetime.now(UTC)
            async with pool.acquire() as conn, conn.transaction():
                n = counts[i]
                customer = await conn.fetchval(sql[0], f"Klant {i}-{n}", now)
                await conn.execute(sql[1], customer, f"raw{i}-{n}@bench.example")
                contact = await conn.fetchval(
                    sql[2], customer, "Vraag", "Goedemiddag " * 16, now, f"raw-{i}-{n}", now
                )
                await conn.execute(sql[3], contact, now, json.dumps({"channel": "email"}))
                await conn.execute(sql[4], json.dumps({"contact_id": contact, "step": 1}), now, now)
            counts[i] += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    elapsed = time.perf_counter() - began
    await pool.close()
    return sum(counts) / elapsed
