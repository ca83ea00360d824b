"""Shared pieces of the benchmarks: the machine, a served app in its own process, percentiles."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import statistics
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

BIN = Path(sys.executable).with_name("handoff-bot")
TOKEN = "bench-token-0123456789abcdef"


def machine() -> str:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "?",
        )
        if Path("/proc/cpuinfo").exists()
        else "?"
    )
    memory = (
        next(
            (
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            "?",
        )
        if Path("/proc/meminfo").exists()
        else "?"
    )
    mem_gib = f"{int(memory) / 1024 / 1024:.0f} GiB" if memory != "?" else "?"
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib}, Python {platform.python_version()}, {platform.system()}"
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values_ms: list[float]) -> str:
    return (
        f"p50 {percentile(values_ms, 50):.1f} ms, p99 {percentile(values_ms, 99):.1f} ms, "
        f"mean {statistics.fmean(values_ms):.1f} ms"
        if values_ms
        else "no samples"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def served(env: dict[str, str], cwd: Path) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`handoff-bot serve` in its own process (the load generator must not share its core)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(BIN),
        "serve",
        "--port",
        str(port),
        cwd=cwd,
        env={
            "PATH": os.environ["PATH"],
            "HANDOFF_LOG_LEVEL": "WARNING",
            "HANDOFF_INTAKE_TOKENS": f"bench={TOKEN}",
            **env,
        },
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        yield url, proc
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def wait_ready(url: str, limit: float = 60) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession() as http:
        while loop.time() - started < limit:
            try:
                async with http.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return loop.time() - started
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.02)
    raise TimeoutError(f"{url} did not become ready within {limit} s")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used: steadier than latency on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
