"""A second OS process using a store, driven by a test over stdin/stdout.

    python -m tests.stores.worker '{"url": …, "action": "append", "session_id": …, "count": 100}'

It opens the store, prints `ready`, and waits for a line on stdin before acting, so a test
can start several workers and release them together. Actions:

- `append`: append `count` turns concurrently, print their sequence numbers as JSON.
- `hold-lock`: take the session's lock, print `locked`, hold it until the next stdin line
  (or until the test kills the process), then print `released`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from stores import SessionStore, Turn, open_store


async def main(config: dict[str, Any]) -> None:
    store = await open_store(config["url"], **config.get("options", {}))
    try:
        say("ready")
        await read_line()
        if config["action"] == "append":
            await append(store, config["session_id"], config["count"])
        elif config["action"] == "hold-lock":
            await hold_lock(store, config["session_id"])
        else:
            raise SystemExit(f"unknown action {config['action']!r}")
    finally:
        await store.close()


async def append(store: SessionStore, session_id: str, count: int) -> None:
    turns = await asyncio.gather(
        *(store.append(session_id, Turn(question=f"q{i}", answer=f"a{i}")) for i in range(count))
    )
    say(json.dumps([turn.seq for turn in turns]))


async def hold_lock(store: SessionStore, session_id: str) -> None:
    async with store.lock(session_id):
        say("locked")
        await read_line()
    say("released")


def say(line: str) -> None:
    print(line, flush=True)


async def read_line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
