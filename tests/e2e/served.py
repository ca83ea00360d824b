"""Real `handoff-bot serve`/`worker` processes for fault tests and benchmarks: start, kill -9, restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from types import TracebackType

import aiohttp

BIN = Path(sys.executable).with_name("handoff-bot")
READY_LIMIT = 90.0  # seconds a process may take to answer /readyz on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Served:
    """One app process at a time; its output goes to `log` (shown when it fails to start)."""

    def __init__(
        self, env: dict[str, str], cwd: Path, *, command: str = "serve", name: str = "serve"
    ) -> None:
        self.env = {"PATH": os.environ["PATH"], "HANDOFF_LOG_LEVEL": "WARNING", **env}
        self.cwd, self.command = cwd, command
        self.log = cwd / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.starts = 0

    async def __aenter__(self) -> Served:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> str:
        """Start the process (on a new port) and wait until it is ready; returns its base URL."""
        argv = [self.command]
        if self.command == "serve":
            port = free_port()
            argv += ["--port", str(port)]
            self.url = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(BIN), *argv, env=self.env, cwd=self.cwd, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        self.starts += 1
        if self.command == "serve":
            await self._wait_ready()
        return self.url

    async def kill(self) -> None:
        """kill -9: no shutdown, no flushing, whatever was in flight is cut off."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                await self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def _wait_ready(self) -> None:
        assert self.proc is not None
        async with aiohttp.ClientSession() as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + READY_LIMIT
            while loop.time() < deadline:
                if self.proc.returncode is not None:
                    raise AssertionError(
                        f"{self.command} exited {self.proc.returncode}:\n{self.output()[-3000:]}"
                    )
                try:
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.command} was not ready within {READY_LIMIT} s:\n{self.output()[-3000:]}")
