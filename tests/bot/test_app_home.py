"""The App Home tab: a person's threads they can still see, what Dexter keeps, erase-all."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import ACTION_HOME_ERASE_ALL
from standins.slack_api import TEAM_ID
from standins.slack_events import CHANNEL, USER, mention, next_ts
from tests.bot.observe import answers, wait_until

LEFT = "C0LEFT"
OTHERS = "C0OTHERS"


def home_opened(tab: str = "home") -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": USER,
        "channel": "D0HOME",
        "tab": tab,
        "event_ts": next_ts(),
    }


async def ask(dexter, text: str, *, channel: str = CHANNEL, user: str = USER) -> str:
    question = mention(text, channel=channel, user=user)
    await dexter.send.event(question)
    await wait_until(lambda: answers(dexter.slack, question["ts"], channel=channel), within=30)
    return question["ts"]


async def test_home_lists_only_the_persons_threads_in_conversations_they_are_in(
    start_dexter,
) -> None:
    dexter = await start_dexter()
    mine = await ask(dexter, "What was Apple's revenue in 2023?")
    await ask(dexter, "What was Tesla's revenue in 2023?", channel=LEFT)
    await ask(dexter, "What was Nvidia's revenue in 2024?", user="U0SOMEONE")
    await ask(dexter, "What was Amazon's revenue in 2024?", channel=OTHERS, user="U0SOMEONE")
    dexter.slack.set_membership(USER, CHANNEL, OTHERS)  # left C0LEFT since asking there

    await dexter.send.event(home_opened())

    await dexter.slack.wait_for("views.publish")
    shown = json.dumps(dexter.slack.home_view(USER))
    assert "Apple" in shown and f"p{mine.replace('.', '')}" in shown  # with its link
    assert "Tesla" not in shown  # a channel the person left
    assert "Nvidia" not in shown and "Amazon" not in shown  # other people's threads
    assert "30 days" in shown and ACTION_HOME_ERASE_ALL in shown


async def test_erase_all_erases_what_home_listed_and_nothing_else(start_dexter) -> None:
    dexter = await start_dexter()
    mine = await ask(dexter, "What was Apple's revenue in 2023?")
    left_behind = await ask(dexter, "What was Tesla's revenue in 2023?", channel=LEFT)
    theirs = await ask(dexter, "What was Nvidia's revenue in 2024?", user="U0SOMEONE")
    dexter.slack.set_membership(USER, CHANNEL)

    await dexter.send.click_in_home(ACTION_HOME_ERASE_ALL, "all")

    await dexter.slack.wait_for("views.publish")
    shown = json.dumps(dexter.slack.home_view(USER))
    assert "Erased 1 thread." in shown and "no Dexter threads yet" in shown
    assert len(await dexter.remembered.load(f"slack:{TEAM_ID}:{CHANNEL}:{mine}")) == 0
    assert len(await dexter.remembered.load(f"slack:{TEAM_ID}:{LEFT}:{left_behind}")) == 1
    assert len(await dexter.remembered.load(f"slack:{TEAM_ID}:{CHANNEL}:{theirs}")) == 1


async def test_the_messages_tab_publishes_nothing(start_dexter) -> None:
    dexter = await start_dexter()

    await dexter.send.event(home_opened(tab="messages"))
    await dexter.send.event(home_opened())

    await dexter.slack.wait_for("views.publish")
    assert len(dexter.slack.calls("views.publish")) == 1
