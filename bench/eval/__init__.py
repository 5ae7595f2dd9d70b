"""Dexter's answer evaluation: `python -m bench.eval` (see `__main__` for the flags).

One module per job: `questions` (the question set, as data), `references` (expected
figures computed from market data: the stand-in's fixtures, or what the tools returned),
`scoring` (deterministic checks of an answer), `judge` (the optional model judge),
`runner` (the agent on either model server and market-data source, in three context
modes), `report` (tables, costs and the JSON record).
"""
