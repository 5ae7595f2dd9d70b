"""👍 / 👎 under an answer: kept with its turn, shown in `/dexter-history`, counted."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.actions.buttons import clicked_thread
from bot.blocks import parse_feedback_value
from bot.ephemeral_replies import reply_to_requester
from bot.listener_services import BotServices
from bot.metrics import FEEDBACK
from bot.threads import AccessDenied
from stores import StoreUnavailable

log = logging.getLogger(__name__)

GIVEN: Counter[str] = Counter()
"""Ratings this process recorded, for the log line (`/metrics` has them as a counter)."""
THANKS = {"good": "Thanks! Glad it helped.", "bad": "Thanks, noted. Ask again with more detail?"}


async def rate_answer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    services: BotServices,
) -> None:
    await ack()
    try:
        rating, seq, session_id = parse_feedback_value(str(action.get("value")))
        thread = clicked_thread(body, session_id)
    except (ValueError, AccessDenied) as exc:
        log.warning("ignoring a feedback click: %s", exc)
        return
    try:
        kept = await services.history.research.rate(thread.session_id, seq, rating)
    except StoreUnavailable as exc:
        log.warning("feedback on %s#%d not kept, the store is down: %s", session_id, seq, exc)
        await reply_to_requester(respond, "Sorry, I couldn't record that just now.")
        return
    if not kept:
        log.info("feedback on %s#%d: the turn is gone", session_id, seq)
        return
    FEEDBACK.labels(rating).inc()
    GIVEN[rating] += 1
    log.info(
        "feedback %s on %s#%d (%d good, %d bad since start)",
        rating,
        session_id,
        seq,
        GIVEN["good"],
        GIVEN["bad"],
    )
    await reply_to_requester(respond, THANKS[rating])
