"""Slack's AI-app container: a new assistant thread is offered a few first questions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncSetSuggestedPrompts

SUGGESTED_PROMPTS = [
    {"title": "Revenue trend", "message": "How has Apple's revenue changed since 2021?"},
    {"title": "Compare margins", "message": "Compare Microsoft's and Alphabet's margins in 2024"},
    {"title": "Latest news", "message": "What is the latest news on Nvidia?"},
]


async def on_assistant_thread_started(set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
    await set_suggested_prompts(prompts=SUGGESTED_PROMPTS)
