"""`make bench`: every benchmark, on the embedded SQLite and (with HANDOFF_TEST_POSTGRES_URL) PostgreSQL.

Results are printed and written to docs/benchmarks.md. BENCH_SECONDS shortens the timed runs (default 20).
BENCH_ONLY=intake, clicks or burst runs only that benchmark (printed, docs/benchmarks.md left alone).
BENCH_SLACK_LATENCY (seconds) makes the fake Slack answer that slowly during the click benchmark.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from handoff_bot.loop import new_event_loop
from handoff_bot.storage.db import create_engine
from handoff_bot.storage.migrate import upgrade_database
from tests.bench import burst_drain, intake, slack_clicks
from tests.bench.common import TOKEN, machine, rss_kib, served, wait_ready

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
ONLY = os.environ.get("BENCH_ONLY", "")


@asynccontextmanager
async def fresh_database(kind: str, workdir: Path) -> AsyncIterator[str]:
    """A new, migrated database: a SQLite file, or a PostgreSQL database created for the run."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
        await upgrade_database(engine)
        await engine.dispose()
        yield url
        return
    admin_url = os.environ["HANDOFF_TEST_POSTGRES_URL"]
    name = f"handoff_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    await upgrade_database(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def footprint(workdir: Path) -> dict[str, float]:
    """Start-up time to /readyz, and resident memory idle and after 10,000 contacts (SQLite)."""
    import aiohttp

    url = f"sqlite+aiosqlite:///{workdir / 'footprint.db'}"
    started = time.perf_counter()
    async with served({"HANDOFF_DATABASE_URL": url}, workdir) as (base, proc):
        startup = time.perf_counter() - started
        await wait_ready(base)
        idle = rss_kib(proc.pid)
        sem = asyncio.Semaphore(32)

        async def post(n: int, http: aiohttp.ClientSession) -> None:
            async with (
                sem,
                http.post(
                    f"{base}/api/contacts",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    json={
                        "channel": "web",
                        "customer": {"email": f"f{n}@bench.example"},
                        "subject": "Vraag",
                        "body": "Tekst " * 50,
                    },
                ) as response,
            ):
                assert response.status == 201

        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(post(n, http) for n in range(10_000)))
        loaded = rss_kib(proc.pid)
    return {"startup_s": startup, "idle_mib": idle / 1024, "loaded_mib": loaded / 1024}


async def main() -> None:
    kinds = ["sqlite"] + (["postgres"] if os.environ.get("HANDOFF_TEST_POSTGRES_URL") else [])
    lines = [f"Machine: {machine()}", f"Timed runs: {SECONDS:.0f} s each", ""]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for kind in kinds if ONLY in ("", "intake") else []:
            async with fresh_database(kind, workdir) as url:
                ours = await intake.over_http(url, workdir, SECONDS)
            async with fresh_database(kind, workdir) as url:
                if kind == "sqlite":
                    raw = await asyncio.to_thread(
                        intake.raw_sqlite, Path(make_url(url).database or ""), SECONDS
                    )
                else:
                    raw = await intake.raw_asyncpg(_plain_dsn(url), SECONDS)
            line = (
                f"1. Intake ({kind}): {ours['per_s']:.0f} contacts/s over HTTP "
                f"with {intake.CONCURRENCY} clients "
                f"(p50 {ours['p50']:.1f} ms, p99 {ours['p99']:.1f} ms); raw driver {raw:.0f}/s; "
                f"ratio {ours['per_s'] / raw:.2f} (target ≥ 0.5); "
                f"server CPU {ours['cpu_us']:.0f} µs a contact"
            )
            print(line, flush=True)
            lines.append(line)
        for kind in kinds if ONLY in ("", "clicks") else []:
            async with fresh_database(kind, workdir) as url:
                clicks = await slack_clicks.click_to_ack(url, workdir)
            slow = (
                f" (Slack answering in {slack_clicks.LATENCY * 1000:.0f} ms)" if slack_clicks.LATENCY else ""
            )
            line = (
                f"2. Click to ack ({kind}): {clicks['clicks']:.0f} signed claim clicks "
                f"by {slack_clicks.PEOPLE} people on {slack_clicks.CONTACTS} contacts{slow}: "
                f"p50 {clicks['p50']:.1f} ms, p99 {clicks['p99']:.1f} ms (target p99 < 100 ms); "
                f"all {clicks['claimed']:.0f} cards showed their claim {clicks['settled_s']:.1f} s "
                f"after the last click; server CPU {clicks['cpu_s']:.1f} s"
            )
            print(line, flush=True)
            lines.append(line)
        for kind in kinds if ONLY in ("", "burst") else []:
            async with fresh_database(kind, workdir) as url:
                drain = await burst_drain.burst_drain(url, workdir)
            line = (
                f"3. Burst drain ({kind}): {drain['contacts']:.0f} contacts at once into a Slack allowing "
                f"{drain['rate']:.0f} posts/s per channel: all posted after {drain['drain_s']:.1f} s "
                f"(target ≤ {drain['target_s']:.1f} s; accepted in {drain['accepted_s']:.1f} s, "
                f"then {drain['rate_after_intake']:.1f} posts/s); "
                f"429s {drain['ratelimited']:.0f}, missing {drain['missing']:.0f}, "
                f"duplicates {drain['duplicates']:.0f}"
            )
            print(line, flush=True)
            lines.append(line)
        if ONLY:
            return
        result = await footprint(workdir)
        line = (
            f"4. Footprint (sqlite): start-up to /readyz {result['startup_s']:.2f} s; resident memory idle "
            f"{result['idle_mib']:.0f} MiB, after 10,000 contacts {result['loaded_mib']:.0f} MiB"
        )
        print(line, flush=True)
        lines.append(line)
    write_report(lines)


def write_report(lines: list[str]) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    body = "\n".join(f"- {line}" if line and line[0].isdigit() else line for line in lines)
    # Hand-written sections below the figures (from the first "## " heading) are kept.
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    notes = old[old.index("\n## ") :] if "\n## " in old else ""
    path.write_text(
        "# Benchmarks\n\nReproduce with `make bench` (on PostgreSQL too when "
        "`HANDOFF_TEST_POSTGRES_URL` is set, "
        "as `.ci/run` sets it). Ratios are measured inside one run; machines here are shared and noisy.\n\n"
        f"Latest run ({time.strftime('%Y-%m-%d %H:%M %Z')}):\n\n{body}\n{notes}",
        encoding="utf-8",
    )
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    # The loop the server runs on (uvloop where installed): the raw asyncpg baseline, the clients and
    # the fake Slack get the same one, so a ratio compares our code with the driver's, not two loops.
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())
