"""Dexter for Slack. `python app.py` serves Slack; `python app.py chat` talks in a terminal."""

from service.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
