"""What the Slack listeners need, built once by the app and handed to every `register`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.answering import ThreadAnswerer
from bot.memory import ThreadMemory


@dataclass(frozen=True, slots=True)
class BotServices:
    answerer: ThreadAnswerer
    memory: ThreadMemory
    follow_up_without_mention: bool = True
