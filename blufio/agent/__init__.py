"""The agent: the loop that turns an inbound message into a reply, and what it relies on.

- ``blufio.agent.loop``: ``Agent``, per-session turns over a provider, storage and tools.
- ``blufio.agent.events``: the events a turn streams to a channel.
- ``blufio.agent.tools``: the tool registry and the built-in tools.
- ``blufio.agent.cost``: model prices, the cost of a call, and budgets.
- ``blufio.agent.runtime``: ``open_runtime(config)``, which builds storage, provider and agent.

Importing this package imports nothing heavy; httpx and aiosqlite load with the adapters.
"""
