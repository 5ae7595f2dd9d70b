"""The status message always ends up showing the research as it stands (issue 13, item 9).

Edits are throttled, so which intermediate state Slack sees depends on timing. What is
promised, and checked here, is that the latest state reaches the screen: an event that
arrives while an edit is on its way, or an edit Slack's rate limit held back, is shown by a
later edit; and no edit repeats what the message already shows. Tests wait for conditions,
never for a time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from agent.progress import PhaseStarted
from bot.status_message import StatusUpdater, ThreadProgress
from bot.threads import ThreadRef
from standins.openai_server import Reply
from standins.slack_api import BOT_TOKEN, TEAM_ID, SlackAPIServer
from standins.slack_events import CHANNEL, mention
from tests.bot.observe import answers, wait_until

THREAD = ThreadRef(TEAM_ID, CHANNEL, "1710000000.000100")
PLANNING = "_Planning the research…_"
EXECUTING = "_Gathering market data…_"
HOLD_SECONDS = 1.0
"""How long the model holds its first reply in the end-to-end test: the status posted
before it must not be edited into itself meanwhile."""


class HeldEdits(AsyncWebClient):
    """Slack's own client, whose `chat.update` calls wait at the door while `holding`: the
    test decides when an edit is on its way. Everything still goes over HTTP to the stand-in."""

    def __init__(self, base_url: str) -> None:
        super().__init__(token=BOT_TOKEN, base_url=base_url)
        self.holding = False
        self.entered = asyncio.Event()
        self.released = asyncio.Event()

    async def api_call(self, api_method: str, **kwargs: Any) -> Any:
        if api_method == "chat.update" and self.holding:
            self.entered.set()
            await self.released.wait()
        return await super().api_call(api_method, **kwargs)


def progress_of(client: AsyncWebClient) -> ThreadProgress:
    return ThreadProgress(
        client,
        StatusUpdater(client),
        THREAD,
        "What was Apple's revenue in 2023?",
        interval=0.01,
        assistant_thread=False,
    )


def on_screen(slack: SlackAPIServer, ts: str | None) -> str:
    """The status message's text as Slack shows it now."""
    (status,) = [m for m in slack.messages(CHANNEL) if m.get("ts") == ts]
    return str(status["text"])


async def test_an_event_during_an_edit_is_shown_once_that_edit_is_done(clean_slack_api) -> None:
    client = HeldEdits(clean_slack_api.url)
    progress = progress_of(client)
    await progress.start()
    client.holding = True

    await progress.on_event(PhaseStarted(phase="planning"))
    await asyncio.wait_for(client.entered.wait(), 10)  # the planning edit is on its way
    await progress.on_event(PhaseStarted(phase="executing"))
    client.released.set()

    await wait_until(lambda: on_screen(clean_slack_api, progress.message_ts).endswith(EXECUTING))


async def test_an_edit_held_back_by_slacks_rate_limit_is_shown_after_it(clean_slack_api) -> None:
    clean_slack_api.rate_limit("chat.update", times=1, retry_after=1)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=clean_slack_api.url)
    progress = progress_of(client)
    await progress.start()

    await progress.on_event(PhaseStarted(phase="planning"))

    await wait_until(lambda: on_screen(clean_slack_api, progress.message_ts).endswith(PLANNING))
    limited, shown = clean_slack_api.calls("chat.update")
    assert (limited.status, shown.status) == (429, 200)


async def test_no_status_edit_repeats_what_the_message_shows(start_dexter, model) -> None:
    dexter = await start_dexter()
    model.script(
        "understand",
        Reply(
            content=json.dumps(
                {"intent": "Apple's revenue", "resolved_query": "Apple revenue in 2023"}
            ),
            delay=HOLD_SECONDS,
        ),
    )
    question = mention("What was Apple's revenue in 2023?")

    await dexter.send.event(question)

    await wait_until(lambda: answers(dexter.slack, question["ts"]), within=30)
    posted = dexter.slack.calls("chat.postMessage")[0]
    status_ts = posted.response["ts"]
    edits = [c for c in dexter.slack.calls("chat.update") if c.params["ts"] == status_ts]
    shown = [posted.params["text"], *(edit.params["text"] for edit in edits)]
    assert edits and all(before != after for before, after in itertools.pairwise(shown))
