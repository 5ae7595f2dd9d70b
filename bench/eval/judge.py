"""The optional model judge (`DEXTER_EVAL_JUDGE_MODEL`), reported apart from the scores.

A deterministic score says whether the figures are there and true; it cannot say whether
the answer reads as an answer to the question. A judge model grades that against a
written rubric, on the same OpenAI-compatible server as the agent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from openai import AsyncOpenAI, OpenAIError

from bench.eval.references import ToolCall
from bench.eval.runner import Judge

DATA_CHARS = 6000
JUDGE_MAX_TOKENS = 300
RUBRIC = """Dexter · judge step
You grade one answer of a financial research assistant. You get the question, the answer
and the data its tools returned. Grade:
2 - answers the question; every figure it states is in the data or computed correctly
    from it, with its period and unit; says plainly what the data lacks.
1 - partly answers it: a figure or period missing, or a vague or padded answer, but
    nothing false.
0 - does not answer it, or states a figure the data does not support.
Reply with only a JSON object: {"score": 0|1|2, "reason": "one sentence"}"""


def model_judge(client: AsyncOpenAI, model: str) -> Judge:
    """A judge asking `model`; a failed or unreadable verdict is recorded, never raised."""

    async def judge(question: str, answer: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
        data = json.dumps(
            [{"tool": c.tool, "arguments": c.arguments, "data": c.data} for c in calls if c.ok],
            default=str,
        )[:DATA_CHARS]
        messages: list[Any] = [
            {"role": "system", "content": RUBRIC},
            {
                "role": "user",
                "content": f"Question:\n{question}\n\nAnswer:\n{answer}\n\nData:\n{data}",
            },
        ]
        try:
            reply = await client.chat.completions.create(
                model=model, messages=messages, temperature=0, max_tokens=JUDGE_MAX_TOKENS
            )
        except OpenAIError as exc:
            return {"score": None, "reason": f"judge failed: {type(exc).__name__}"}
        text = (reply.choices[0].message.content or "") if reply.choices else ""
        try:
            verdict = json.loads(text[text.index("{") : text.rindex("}") + 1])
            score = int(verdict["score"])
        except (ValueError, KeyError, TypeError):
            return {"score": None, "reason": f"unreadable verdict: {text[:80]!r}"}
        return {"score": score if score in (0, 1, 2) else None, "reason": verdict.get("reason")}

    return judge
