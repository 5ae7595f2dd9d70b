"""Replies only the asker sees: to slash commands and button clicks (errors turned into
words), and in a question's thread."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Blocks, error_blocks, message_payload, usage_blocks
from bot.questions import Question
from bot.threads import AccessDenied, InvalidThreadLink
from stores import StoreUnavailable

log = logging.getLogger(__name__)


async def respond_ephemerally(
    ack: AsyncAck,
    respond: AsyncRespond,
    produce: Callable[[], Awaitable[Blocks]],
    *,
    command: str,
    replace_original: bool = False,
) -> None:
    """Every command, button and shortcut: acknowledge at once, then send what `produce`
    builds to the requester only; a refusal or failure says why instead."""
    await ack()
    try:
        blocks = await produce()
    except (AccessDenied, InvalidThreadLink) as exc:
        blocks = usage_blocks(command, str(exc))
    except StoreUnavailable as exc:
        reference = secrets.token_hex(4)
        log.error("%s failed [ref %s]: %s", command, reference, exc)
        blocks = error_blocks(
            "Sorry, I couldn't open Dexter's memory just now. Please try again shortly.",
            reference,
        )
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("%s failed [ref %s]", command, reference)
        blocks = error_blocks("Sorry, that didn't work. Please try again.", reference)
    payload = message_payload(blocks)
    await reply_to_requester(
        respond, payload["text"], payload["blocks"], replace_original=replace_original
    )


async def reply_to_requester(
    respond: AsyncRespond,
    text: str,
    blocks: Blocks | None = None,
    *,
    replace_original: bool = False,
) -> None:
    """Words only the person who clicked or typed sees, through the request's response_url."""
    try:
        await respond(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=replace_original
        )
    except Exception as exc:  # an expired or unreachable response_url: nobody to tell
        log.warning("could not reply to a response_url: %s", type(exc).__name__)


async def tell_asker(
    client: AsyncWebClient, question: Question, text: str, blocks: Blocks | None = None
) -> None:
    """A reply only the asker sees, in the thread of the question."""
    await client.chat_postEphemeral(
        channel=question.thread.channel,
        user=question.user,
        thread_ts=question.thread.thread_ts,
        text=text,
        blocks=blocks,
    )
