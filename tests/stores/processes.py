"""Second OS processes for the tests: `tests.stores.worker` driven over stdin/stdout."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_TIMEOUT_SECONDS = 60.0


class Worker:
    """A `tests.stores.worker` process: a second OS process sharing the store."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def launch(cls, config: dict[str, Any]) -> Worker:
        """Start it; it says `ready` once its store is open."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.stores.worker",
            json.dumps(config),
            cwd=REPO_ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def expect(self, wanted: str | None = None) -> str:
        """The worker's next line of output (which must be `wanted`, if given)."""
        assert self.process.stdout is not None
        read = self.process.stdout.readline()
        line = (await asyncio.wait_for(read, WORKER_TIMEOUT_SECONDS)).decode().strip()
        if not line:
            raise AssertionError(f"worker exited with {await self.process.wait()}")
        if wanted is not None:
            assert line == wanted
        return line

    async def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()

    async def finish(self) -> int:
        return await asyncio.wait_for(self.process.wait(), WORKER_TIMEOUT_SECONDS)
