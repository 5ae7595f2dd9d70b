"""Running Dexter: wiring settings, store, agent, Slack and the HTTP API into one process."""
