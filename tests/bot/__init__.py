"""Tests of the Slack surface: rendering, Block Kit payloads, the Slack API stand-in."""
