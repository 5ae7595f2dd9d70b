"""A chart of the figures an answer rests on, uploaded into its thread.

Drawn with matplotlib's object API on an Agg canvas (no display, no pyplot global state,
so drawing in a worker thread is safe), as a PNG whose metadata carries the exact
points drawn. Uploaded with `files_upload_v2`, titled with the company, measure, unit and
period, and with alt text listing the points for screen readers.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.series import Series
from bot.threads import ThreadRef

log = logging.getLogger(__name__)

ALT_TEXT_LIMIT = 1000
MAX_TICK_LABELS = 12
BAR_COLOUR = "#1f6fb2"


def render_png(series: Series) -> bytes:
    """The chart as PNG bytes; its `Description` metadata holds the points as JSON."""
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)  # drawn by Agg: no display needed
    axes = figure.subplots()
    labels = [label for label, _ in series.points]
    values = [value for _, value in series.points]
    positions = range(len(values))
    if series.kind == "bar":
        axes.bar(positions, values, color=BAR_COLOUR)
    else:
        axes.plot(positions, values, color=BAR_COLOUR, linewidth=1.5)
    step = max(1, -(-len(labels) // MAX_TICK_LABELS))
    axes.set_xticks(list(positions)[::step], labels[::step], rotation=30, ha="right")
    axes.set_title(series.title, fontsize=11)
    axes.set_ylabel(series.unit)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    described = {"title": series.title, "unit": series.unit, "points": series.points}
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        metadata={"Title": series.title, "Description": json.dumps(described)},
    )
    return buffer.getvalue()


async def post_chart(client: AsyncWebClient, thread: ThreadRef, series: Series) -> None:
    """Draw `series` off the event loop and share it in the thread. Any failure is only
    logged: the answer already stands without its chart."""
    name = re.sub(r"[^a-z0-9]+", "-", f"{series.company} {series.measure}".lower()).strip("-")
    try:
        png = await asyncio.to_thread(render_png, series)
        await client.files_upload_v2(
            channel=thread.channel,
            thread_ts=thread.thread_ts,
            content=png,
            filename=f"{name}.png",
            title=series.title,
            alt_txt=series.alt_text[:ALT_TEXT_LIMIT],
        )
    except SlackApiError as exc:
        log.warning("chart upload refused in %s: %s", thread.session_id, exc.response.get("error"))
    except Exception:
        log.exception("no chart for %s", thread.session_id)
