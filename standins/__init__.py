"""Local stand-ins for the services Dexter calls, shared by the tests and the benchmarks.

Each serves real HTTP on loopback, so Dexter's real clients (`slack_sdk`, `openai`, `httpx`)
talk to them unpatched: Slack's Web API and events (`slack_api`, `slack_events`), an
OpenAI-compatible server (`openai_server`) and the Financial Datasets API (`market_data`).
`uvicorn_server` runs Dexter's own app beside them. Nothing here ships with the app.
"""
