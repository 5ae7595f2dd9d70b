"""What the Slack surface counts, for `/metrics` (Prometheus, the process's registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ACK_SECONDS = Histogram(
    "dexter_slack_ack_seconds",
    "Seconds from a Slack request's arrival to its acknowledgement (HTTP mode).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
QUESTIONS_WAITING = Gauge(
    "dexter_questions_waiting", "Questions this instance has queued or is answering."
)
DEDUPE_HITS = Counter(
    "dexter_dedupe_hits",
    "Slack deliveries dropped as already taken: here (in memory) or by any instance (store).",
    ["where"],
)
FEEDBACK = Counter("dexter_feedback", "Ratings people gave answers, by rating.", ["rating"])
