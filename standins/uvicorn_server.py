"""Start Dexter's real ASGI app with uvicorn on a free loopback port, in the running loop."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """The server, its task (set `server.should_exit` and await it to stop) and its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"
