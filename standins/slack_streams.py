"""Slack's chat streaming methods in the stand-in: `chat.startStream`, `chat.appendStream`,
`chat.stopStream`, refusing what Slack refuses.

Checked as Slack's method pages and observed behaviour describe them: the channel is
required, and so are `recipient_user_id` and `recipient_team_id` (Slack documents them for
channels; bot-token streams need them in DMs too); `task_display_mode` is `timeline` or
`plan`; `markdown_text`, as an argument or a chunk, holds at most 12,000 characters;
chunks are `markdown_text`, `task_update` (an id, a title of at most 256 characters, a
status among pending, in_progress, complete, error), `plan_update` (a title) or `blocks`;
appending or stopping needs a message still streaming (`message_not_in_streaming_state`
after the stop), written by this app. The streamed message keeps the text so far, each
task's latest state and the plan's title, so tests read what a person would see.
"""

from __future__ import annotations

from typing import Any

MARKDOWN_LIMIT = 12_000
TASK_TITLE_LIMIT = 256
TASK_STATUSES = ("pending", "in_progress", "complete", "error")
DISPLAY_MODES = ("timeline", "plan")
CHUNK_TYPES = ("markdown_text", "task_update", "plan_update", "blocks")


class StreamRefused(Exception):
    """Slack's error code for a streaming call, with detail messages."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


def check_start(params: dict[str, Any]) -> None:
    """Refuse a `chat.startStream` call as Slack would."""
    for name in ("recipient_user_id", "recipient_team_id"):
        if not params.get(name):
            raise StreamRefused(f"missing_{name}")
    mode = params.get("task_display_mode", "timeline")
    if mode not in DISPLAY_MODES:
        raise StreamRefused(
            "invalid_arguments", [f"[ERROR] task_display_mode must be one of {DISPLAY_MODES}"]
        )
    check_content(params, required=False)


def check_content(params: dict[str, Any], *, required: bool) -> None:
    """Refuse bad `markdown_text` and `chunks`; with `required`, refuse a call with neither."""
    text, chunks = params.get("markdown_text"), params.get("chunks")
    if required and not text and not chunks:
        raise StreamRefused("no_text")
    if text is not None and (not isinstance(text, str) or len(text) > MARKDOWN_LIMIT):
        raise StreamRefused("msg_too_long")
    if chunks is None:
        return
    if not isinstance(chunks, list):
        raise StreamRefused("invalid_chunks", ["[ERROR] chunks must be an array"])
    problems = [p for n, chunk in enumerate(chunks) for p in _chunk_problems(chunk, n)]
    if any(p.startswith("msg_too_long") for p in problems):
        raise StreamRefused("msg_too_long", problems)
    if problems:
        raise StreamRefused("invalid_chunks", problems)


def _chunk_problems(chunk: Any, n: int) -> list[str]:
    where = f"[json-pointer:/chunks/{n}]"
    if not isinstance(chunk, dict) or chunk.get("type") not in CHUNK_TYPES:
        return [f"[ERROR] unknown chunk type {where}"]
    kind = chunk["type"]
    if kind == "markdown_text":
        text = chunk.get("text")
        if not isinstance(text, str) or not text:
            return [f"[ERROR] markdown_text chunk needs text {where}"]
        return [f"msg_too_long {where}"] if len(text) > MARKDOWN_LIMIT else []
    if kind == "task_update":
        problems = []
        if not isinstance(chunk.get("id"), str) or not chunk["id"]:
            problems.append(f"[ERROR] task_update needs an id {where}")
        title = chunk.get("title")
        if not isinstance(title, str) or not title or len(title) > TASK_TITLE_LIMIT:
            problems.append(f"[ERROR] task_update title must be 1-{TASK_TITLE_LIMIT} chars {where}")
        if chunk.get("status") not in TASK_STATUSES:
            problems.append(f"[ERROR] task_update status must be one of {TASK_STATUSES} {where}")
        for name in ("details", "output"):
            if name in chunk and not isinstance(chunk[name], str):
                problems.append(f"[ERROR] task_update {name} must be a string {where}")
        return problems
    if kind == "plan_update":
        title = chunk.get("title")
        if not isinstance(title, str) or not title or len(title) > TASK_TITLE_LIMIT:
            return [f"[ERROR] plan_update title must be 1-{TASK_TITLE_LIMIT} chars {where}"]
        return []
    return [] if isinstance(chunk.get("blocks"), list) else [f"[ERROR] blocks chunk {where}"]


def apply_chunks(message: dict[str, Any], params: dict[str, Any]) -> None:
    """Fold a call's text and chunks into the streamed message, as the person sees it."""
    stream = message.setdefault("stream", {"text": "", "tasks": {}, "plan_title": None, "calls": 0})
    stream["calls"] += 1
    if params.get("markdown_text"):
        stream["text"] += params["markdown_text"]
    for chunk in params.get("chunks") or []:
        if chunk["type"] == "markdown_text":
            stream["text"] += chunk["text"]
        elif chunk["type"] == "task_update":
            task = stream["tasks"].setdefault(chunk["id"], {"details": ""})
            task.update(title=chunk["title"], status=chunk["status"])
            task["details"] += chunk.get("details", "")  # details append; the rest replace
            if "output" in chunk:
                task["output"] = chunk["output"]
        elif chunk["type"] == "plan_update":
            stream["plan_title"] = chunk["title"]
    message["text"] = stream["text"]
