"""The agent loop: one inbound message in, one stored reply out, streamed as events.

Using it (what channels build on)::

    agent = Agent.from_config(config, provider=provider, storage=storage, observer=observer)
    session = await agent.new_session("telegram")
    async for event in agent.submit(session.id, "telegram", "hello", reply_to={"chat": 1}):
        ...  # Typing, TextDelta, ToolUse, ToolResult, then TurnComplete or TurnError

    # at start-up, answer what a crash left unanswered (each entry exactly once):
    await agent.resume_unfinished(deliver)   # deliver(inbound, events) is awaited per entry

    await agent.aclose()                     # waits (drain_timeout) for turns in flight

A channel speaking Anthropic's Messages API passes a client's ``TurnOptions`` (its system
text, client tools, model, limits, sampling, prefill; ``blufio.agent.options``) to ``submit``
or ``process``. When the model calls a client tool, the turn ends there (``stop_reason``
``tool_use``, the calls in ``TurnComplete.tool_uses``); the client's ``tool_result`` is the
next turn's message.

``submit`` is ``receive`` (store the message in the inbound queue, durably, before anything
else) followed by ``process`` (start the turn now and return its event stream). A channel
that must acknowledge receipt before rendering can call the two itself. A turn runs in its
own task, so it is stored even if the channel stops reading (``blufio.agent.stopping``).

A turn: claim the inbound entry → assemble context (system prompt, the session's recent
history, tool definitions) → check budgets → call the provider, streaming → run the tools it
asks for → repeat (at most ``max_tool_rounds`` rounds of tools) → store every message of the
turn and mark the entry done in one transaction (``Storage.finish_turn``). Each provider
call is written to the cost ledger as soon as it ends. A failure marks the entry failed and
stores nothing of the turn, so a partial reply is never kept as if it were complete.

Turns of different sessions run concurrently; the turns of one session run one at a time,
in the order their messages were received. History is bounded by message count and by size
and always starts at a user message that is not a tool result, so a ``tool_use`` is never
separated from its ``tool_result``. With memory (``blufio.agent.memory``), what outgrows the
bounds is summarised (``blufio.agent.compaction``) instead of dropped, and what is recalled
from other conversations follows the owner's system prompt (before a client's system text).
"""

import asyncio
import logging
import time

from blufio.agent.compaction import SUMMARY_HEADER, Compactor, trimmed
from blufio.agent.cost import Budget, cost_usd, price_table
from blufio.agent.events import ToolResult, ToolUse, TurnComplete, TurnError, Typing
from blufio.agent.options import NO_OPTIONS
from blufio.agent.session_locks import SessionLocks
from blufio.agent.stream import MessageBuilder
from blufio.agent.tools.memory import CURRENT_TURN
from blufio.agent.turn_state import TurnState, append_message, closing_message, round_end
from blufio.agent.stopping import stoppable
from blufio.agent.turn_stream import DONE, TurnStream
from blufio.errors import BlufioError, ConfigError, StorageError
from blufio.model import USAGE_LABELS, CostEntry, NewMessage, text_blocks, text_of
from blufio.observability import NullObserver
from blufio.recent import RecentSet

log = logging.getLogger("blufio.agent")

KNOWN_SESSIONS = 4096  # session ids remembered as existing; others cost one lookup


class Agent:
    """Runs turns for every session over one provider, one storage and one tool registry."""

    def __init__(self, *, provider, storage, tools=None, observer=None, budget=None,
                 system_prompt="", model="", max_tokens=4096, max_tool_rounds=8,
                 max_history_messages=200, max_history_chars=400_000, drain_timeout=30.0,
                 memory=None, prices=None):
        from blufio.agent.tools import ToolRegistry

        self.provider = provider
        self.storage = storage
        self.tools = tools if tools is not None else ToolRegistry()
        self.observer = observer or NullObserver()
        self.budget = budget or Budget(storage, observer=self.observer)
        self.system_prompt = system_prompt
        self.model = model or provider.default_model
        self.prices = provider.prices if prices is None else prices
        self.max_tokens = max_tokens
        self.max_tool_rounds = max(0, max_tool_rounds)
        self.max_history_messages = max(1, max_history_messages)
        self.max_history_chars = max_history_chars
        self.drain_timeout = drain_timeout
        self.memory = memory  # an AgentMemory, or None
        self.compactor = None
        if memory is not None and memory.compaction:
            self.compactor = Compactor(storage, provider, model=self.model,
                                       max_messages=self.max_history_messages,
                                       max_chars=max_history_chars, check_budget=self.budget.check,
                                       record=self._charge)
        self._locks = SessionLocks(lambda count: self.observer.sessions_active(count))
        self._tasks = set()
        self._known_sessions = RecentSet(KNOWN_SESSIONS)  # ids that exist, to skip a lookup

    @classmethod
    def from_config(cls, config, *, provider, storage, observer=None, tools=None,
                    embedder=None):
        """An agent with ``[agent]``, ``[cost]``, ``[tools]`` and ``[memory]`` settings from
        ``config``; ``embedder`` is the embedding adapter, if one is enabled."""
        from blufio.agent.memory import AgentMemory
        from blufio.agent.tools import default_registry

        observer = observer or NullObserver()
        history_tokens = _optional(config, "agent.max_history_tokens")
        memory = AgentMemory.from_config(config, storage, embedder)
        if tools is None:
            tools = default_registry(config, observer)
            if memory is not None:
                memory.register_tools(tools)
        return cls(provider=provider, storage=storage, observer=observer, tools=tools,
                   memory=memory,
                   budget=Budget.from_config(config, storage, observer),
                   system_prompt=config.get("agent.system_prompt") or "",
                   model=config.get("agent.model") or "",
                   max_tokens=config.get("agent.max_tokens"),
                   max_tool_rounds=config.get("agent.max_tool_rounds"),
                   max_history_messages=config.get("agent.max_history_messages"),
                   max_history_chars=(history_tokens or 100_000) * 4,
                   drain_timeout=config.get("agent.drain_timeout"),
                   prices=price_table(config, provider.prices))

    # --- sessions and messages ---

    async def new_session(self, channel, *, title="", metadata=None):
        """Create and return a new session on ``channel``."""
        session = await self.storage.create_session(channel, title=title, metadata=metadata)
        self._known_sessions.add(session.id)
        return session

    async def receive(self, session_id, channel, content, reply_to=None, *, claim=False):
        """Store a received message (``content``: text or content blocks) as pending, or
        already claimed for this process when ``claim`` (``submit`` processes it at once)."""
        if isinstance(content, str):
            content = text_blocks(content)
        if session_id not in self._known_sessions:
            if await self.storage.get_session(session_id) is None:
                raise StorageError(f"no session with id {session_id}")
            self._known_sessions.add(session_id)
        inbound = await self.storage.enqueue(session_id, channel, content, reply_to=reply_to,
                                             claimed=claim)
        self.observer.message(channel, "in")
        return inbound

    def process(self, inbound, options=None):
        """Start the turn answering ``inbound`` now, with a client's ``options``
        (``blufio.agent.options.TurnOptions``; none: the owner's turn); return its
        ``TurnStream``."""
        stream = TurnStream()
        stream.task = asyncio.get_running_loop().create_task(
            self._run(inbound, stream, options or NO_OPTIONS))
        self._tasks.add(stream.task)
        stream.task.add_done_callback(self._tasks.discard)
        return stream

    async def submit(self, session_id, channel, content, reply_to=None, *, options=None):
        """Store the message, then yield the events of its turn (see the module docstring)."""
        inbound = await self.receive(session_id, channel, content, reply_to, claim=True)
        async for event in self.process(inbound, options):
            yield event

    async def unanswered(self, *, channels=None, reset=True):
        """The entries a crash left pending or processing (on ``channels``), oldest first.
        Ask before those channels accept messages: an entry a live request queued in the
        meantime would be taken for a leftover and answered twice. Without ``reset`` (one of
        several workers) only what the supervisor freed is listed (``blufio.workers``)."""
        if reset:
            await self.storage.reset_processing(channels=channels)
        return [entry for entry in await self.storage.unfinished()
                if channels is None or entry.channel in channels]

    async def resume_unfinished(self, deliver=None, *, channels=None, listed=None, reset=True,
                                entries=None):
        """Answer ``entries`` (else what ``unanswered`` lists now) once each, oldest first;
        return how many. ``deliver(inbound, events)`` is awaited for each, concurrently
        (without it the events are dropped); ``listed()`` once their turns have started."""
        if entries is None:
            entries = await self.unanswered(channels=channels, reset=reset)
        streams = [(entry, self.process(entry)) for entry in entries]  # in order, per session
        if listed is not None:
            await listed()

        async def consume(entry, stream):
            if deliver is not None:
                await deliver(entry, stream)
            await stream.wait()

        await asyncio.gather(*(consume(entry, stream) for entry, stream in streams))
        return len(entries)

    async def aclose(self, timeout=None):
        """Wait up to ``timeout`` (default ``drain_timeout``) for turns in flight, then
        cancel the rest (their entries stay unfinished and are resumed next start); then
        stop memory's background work."""
        pending = set(self._tasks)
        if pending:
            timeout = self.drain_timeout if timeout is None else timeout
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        if self.memory is not None:
            await self.memory.aclose()

    # --- one turn ---

    async def _run(self, inbound, stream, options):
        from blufio.agent.tools import CURRENT_INBOUND

        CURRENT_INBOUND.set(inbound)  # this task is the turn's own
        entry = self._locks.take(inbound.session_id)
        shared = bool(getattr(self.storage, "owner", ""))  # other processes answer too
        try:
            async with stoppable(self.storage, inbound, stream, self.model):
                # Shared, the claim waits for the session's older entries wherever they
                # run, so it comes first: a turn waiting never holds a lock they need here.
                if shared and not await self._claim(inbound):
                    return
                async with entry[0]:
                    if shared or await self._claim(inbound):
                        await self._run_claimed(inbound, stream, options)
        finally:
            self._locks.give_back(inbound.session_id, entry)
            stream._emit(DONE)

    async def _claim(self, inbound):
        """Whether this turn may answer ``inbound`` (False: someone else is answering it)."""
        return inbound.status == "processing" or await self.storage.claim(inbound.id)

    async def _run_claimed(self, inbound, stream, options):
        stream.started, emit = True, stream._emit
        started = time.monotonic()
        emit(Typing(inbound.session_id, inbound.id))
        try:
            await self._turn(inbound, stream, started, options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = BlufioError.wrap(exc, "the turn failed unexpectedly")
            if error.kind == "internal":
                log.warning("turn %s failed: %s", inbound.id, error,
                            exc_info=exc if log.isEnabledFor(logging.DEBUG) else None)
            self.observer.error(error.kind)
            try:
                await self.storage.fail_turn(inbound.id, str(error))
            except Exception:
                log.exception("cannot mark inbound %s failed", inbound.id)
            emit(TurnError(inbound.session_id, inbound.id, error=error, kind=error.kind))

    def provider_request(self, options=NO_OPTIONS, context=()):
        """The model, system, tools and max_tokens of a turn's provider calls: the owner's
        system prompt, then ``context`` (the session's summary, what memory recalls), then
        the client's ``options`` (see ``blufio.agent.options``)."""
        system = [{"type": "text", "text": self.system_prompt}] if self.system_prompt else []
        cap = self.max_tokens
        return {"model": options.model or self.model,
                "system": system + list(context) + options.system,
                "tools": self.tools.definitions() + options.tools,
                "max_tokens": min(options.max_tokens or cap, cap)}

    async def count_tokens(self, messages, options=NO_OPTIONS):
        """The input tokens of a provider call with ``messages`` (API messages) and the
        turn's system and tools, as the provider counts them."""
        request = self.provider_request(options)
        del request["max_tokens"]
        return await self.provider.count_tokens(**request, messages=messages,
                                                options=options.provider_options(True))

    async def _turn(self, inbound, stream, started, options):
        CURRENT_TURN.set((inbound.session_id, inbound.channel))
        context, messages = await self._context(inbound)
        append_message(messages, "user", inbound.content)
        turn = [NewMessage("user", inbound.content)]
        await self.tools.refresh()  # what the skill runtimes offer now
        request = self.provider_request(options, context)
        client_tools = options.client_tool_names
        state = TurnState(started)
        for round_number in range(self.max_tool_rounds + 1):
            await self.budget.check()
            content, usage = await self._call(inbound, request, messages, options,
                                              round_number == 0, stream._emit, state)
            tool_uses = [block for block in content if block.get("type") == "tool_use"]
            for_client = [block for block in tool_uses if block.get("name") in client_tools]
            stop = round_end(inbound, round_number, self.max_tool_rounds, state, tool_uses,
                             for_client)
            if stop is not None:
                turn.append(closing_message(inbound, content, usage, state.model, stop,
                                                 stream._emit, state))
                break
            turn.append(NewMessage("assistant", content, state.model, usage))
            append_message(messages, "assistant", content)
            results = await self._run_tools(
                inbound, [block for block in tool_uses if block not in for_client], stream._emit)
            if results:
                turn.append(NewMessage("user", results))
                append_message(messages, "user", results)
            if for_client:  # the client runs these; its tool_result continues the turn
                state.client_tool_uses = for_client
                break
        await self._finish(inbound, turn, started, stream, state)

    async def _finish(self, inbound, turn, started, stream, state):
        """Store the turn's messages (marking its inbound entry done) and report it."""
        stream.storing = True  # too late to stop it now
        stored = await self.storage.finish_turn(inbound.id, turn)
        if self.memory is not None:
            self.memory.poke()
        self.observer.message(inbound.channel, "out")
        self.observer.turn_latency(inbound.channel, time.monotonic() - started)
        stream._emit(TurnComplete(
            inbound.session_id, inbound.id, message=stored[-1] if stored else None,
            text=state.text(), usage=state.usage, stop_reason=state.stop_reason,
            model=state.model, cost_usd=state.cost, stop_sequence=state.stop_sequence,
            tool_uses=state.client_tool_uses))

    async def _run_tools(self, inbound, tool_uses, emit):
        """Run the server tools of one round (concurrently), reporting each as ``ToolUse`` and
        ``ToolResult``."""
        def ids(block):
            return {"tool_use_id": block.get("id", ""), "name": block.get("name", "")}

        return await self.tools.run_round(
            tool_uses,
            lambda block: emit(ToolUse(inbound.session_id, inbound.id, **ids(block),
                                       input=block.get("input"))),
            lambda block, outcome: emit(ToolResult(inbound.session_id, inbound.id, **ids(block),
                                                   is_error=outcome.is_error,
                                                   content=outcome.content)))

    async def _call(self, inbound, request, messages, options, first, emit, state):
        """One streamed provider call; returns (content, usage), sets the state's stop
        reason, and records its cost, even when it fails part-way (the tokens were billed).
        The turn's first call continues the client's prefill, if it sent one. When a
        provider chain says who answered (``message_start``), that provider and model are
        recorded."""
        prefill = options.prefill if first else []
        if prefill:
            messages = [*messages, {"role": "assistant", "content": prefill}]
        builder = MessageBuilder()
        call_started = time.monotonic()
        try:
            async for event in self.provider.stream(**request, messages=messages,
                                                    options=options.provider_options(
                                                        first, request["max_tokens"])):
                text = builder.feed(event)
                if text:
                    state.add_text(emit, inbound, text, self.observer,
                                   builder.model if builder.provider else request["model"])
            content = builder.finish()
        finally:
            state.end_round()
            state.model = builder.model if builder.provider else request["model"]
            self.observer.provider_latency(state.model, time.monotonic() - call_started)
            if builder.started:
                await self._record(inbound, state.model, builder.usage, state,
                                   builder.provider or getattr(self.provider, "name", ""))
        state.stop_reason, state.stop_sequence = builder.stop_reason, builder.stop_sequence
        return [*prefill, *content], builder.usage

    async def _record(self, inbound, model, usage, state, provider):
        usd = await self._charge(inbound.session_id, usage, model, provider)
        state.usage = state.usage + usage
        state.cost += usd

    async def _charge(self, session_id, usage, model=None, provider=None):
        """Write one provider call of ``model`` (the agent's by default) answered by
        ``provider`` to the ledger, the metrics and the budget; return its USD."""
        model = model or self.model
        provider = provider or getattr(self.provider, "name", "")
        usd = cost_usd(model, usage, self.prices)
        for attribute, kind in USAGE_LABELS.items():
            count = getattr(usage, attribute)
            if count:
                self.observer.tokens(model, kind, count)
        await self.storage.record_cost(CostEntry(session_id, model, usage, usd,
                                                 provider=provider))
        self.budget.spend(usd)
        return usd

    async def _context(self, inbound):
        """``(system blocks, messages)`` of a turn besides the owner's and the client's: the
        session's summary and what memory recalls; the history since the summary, bounded,
        starting cleanly."""
        context = []
        summary, messages = await self._history(inbound.session_id)
        if summary:
            context.append({"type": "text", "text": f"{SUMMARY_HEADER}\n{summary}"})
        if self.memory is not None:
            recalled = await self.memory.recall.block(inbound.session_id, inbound.channel,
                                                      text_of(inbound.content))
            if recalled:
                context.append({"type": "text", "text": recalled})
        return context, messages

    async def history(self, session_id):
        """The session's recent messages as a turn would send them (never summarising now)."""
        return (await self._history(session_id, summarise=False))[1]

    async def _history(self, session_id, summarise=True):
        """``(summary or None, API messages since it)``: compacted, or else trimmed."""
        if self.compactor is not None:
            summary, stored = await self.compactor.history(session_id, summarise=summarise)
        else:
            summary, stored = None, trimmed(
                await self.storage.get_messages(session_id, limit=self.max_history_messages),
                self.max_history_messages, self.max_history_chars)
        messages = []
        for message in stored:
            append_message(messages, message.role, message.content)
        return summary, messages


def _optional(config, dotted):
    try:
        return config.get(dotted)
    except ConfigError:
        return None
