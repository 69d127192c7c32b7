"""The adapter contracts, all in one place.

Every plugin implements ``PluginAdapter`` plus the contract of its kind. Contracts are
``typing.Protocol`` classes: implementations do not inherit from them, they just match.
An adapter class is constructed as ``AdapterClass(config, **services)`` by the registry,
where ``config`` is the running ``blufio.config.Config``.

Kinds: channel, provider, storage, embedding, observability, auth, skill_runtime
(``CONTRACTS`` maps each to its Protocol). The registry checks every adapter it creates
against the contract of its kind, and ``tests/contracts`` checks every plugin of the build:
its class matches the Protocol, its identity agrees with its ``plugin.toml``, and its
``health_check``/``shutdown`` behave.
"""

from __future__ import annotations

import inspect
from typing import (TYPE_CHECKING, AsyncIterator, Mapping, Optional, Protocol, Sequence,
                    runtime_checkable)

from blufio.model import (CostEntry, Inbound, Memory, MemoryHit, Message, NewMessage, Schedule,
                          ScheduleRun, Session)

if TYPE_CHECKING:  # imported for the annotations only: the agent is heavy to import
    from blufio.agent.cost import Price
    from blufio.agent.events import AgentEvent
    from blufio.agent.loop import Agent


@runtime_checkable
class PluginAdapter(Protocol):
    """What every adapter has: identity, a health check, and an orderly shutdown."""

    name: str  # these three come from the plugin's manifest (blufio.manifest.identity)
    version: str
    adapter_type: str  # one of blufio.manifest.ADAPTER_TYPES

    async def health_check(self) -> dict:
        """``{"status": "ok" | "degraded" | "down", "detail": "..."}``; never raises."""

    async def shutdown(self) -> None:
        """Release every resource; safe to call twice."""


@runtime_checkable
class Provider(PluginAdapter, Protocol):
    """A model provider.

    ``stream`` yields events in the vocabulary of Anthropic's Messages API streaming format,
    as dicts with a ``type``: ``message_start``, ``content_block_start``,
    ``content_block_delta`` (``text_delta`` or ``input_json_delta``), ``content_block_stop``,
    ``message_delta`` (cumulative ``usage``, ``stop_reason``, ``stop_sequence``),
    ``message_stop``. ``ping`` events are not passed on. Failures raise
    ``blufio.errors.ProviderError``; once output has started, a failure is raised where the
    stream stands and is never retried.


    ``options`` carries what a client set for the call, in Anthropic's names:
    ``tool_choice``, ``stop_sequences``, ``temperature``, ``top_p``, ``top_k``, ``thinking``,
    ``metadata``, and ``betas`` (beta flags: a provider forwards those it knows and ignores
    the rest). A provider passes on what it supports and ignores the rest.
    """

    default_model: str
    prices: Mapping[str, Price]  # USD per million tokens, by model name prefix

    def stream(self, *, model: str, system: list, messages: list, tools: list,
               max_tokens: int, options: Optional[Mapping] = None) -> AsyncIterator[dict]:
        ...

    async def count_tokens(self, *, model: str, system: list, messages: list, tools: list,
                           options: Optional[Mapping] = None) -> int:
        """The input tokens a ``stream`` call with these arguments would be billed for,
        through the provider's own counting endpoint when it has one."""


@runtime_checkable
class Storage(PluginAdapter, Protocol):
    """Durable sessions, messages, the inbound queue, the cost ledger, small state and
    schedules.

    A turn is crash-safe: the inbound message is queued (``enqueue``) before it is
    processed, and ``finish_turn`` stores the turn's messages and marks the inbound entry
    done in one transaction, so after a crash a turn is either wholly stored or still
    pending.
    """

    async def open(self) -> None:
        """Create or migrate the database; raise StorageError/SchemaTooNewError if unusable."""

    async def create_session(self, channel: str, *, session_id: Optional[str] = None,
                             title: str = "", metadata: Optional[dict] = None) -> Session: ...

    async def get_session(self, session_id: str) -> Optional[Session]: ...

    async def delete_session(self, session_id: str) -> bool:
        """Delete a session with its messages and inbound entries (its cost entries stay in
        the ledger: money spent is never forgotten); False if there was no such session."""

    async def list_sessions(self, *, limit: int = 50, offset: int = 0,
                            channel: Optional[str] = None) -> list[Session]:
        """Newest (most recently updated) first."""

    async def count_sessions(self, *, channel: Optional[str] = None) -> int: ...

    async def get_messages(self, session_id: str, *, limit: Optional[int] = None) -> list[Message]:
        """The session's last ``limit`` messages (all when None), oldest first."""

    async def append_messages(self, session_id: str, messages: list[NewMessage]) -> list[Message]:
        """Append messages outside any turn (e.g. seeding a session), in one transaction."""

    async def enqueue(self, session_id: str, channel: str, content: list, *,
                      reply_to: Optional[dict] = None, claimed: bool = False) -> Inbound:
        """Queue a received message as ``pending`` (``processing`` when ``claimed``: the
        caller answers it at once, and a crash leaves it for ``reset_processing``)."""

    async def claim(self, inbound_id: int) -> bool:
        """Move an entry from ``pending`` to ``processing``; False if it was not pending."""

    async def finish_turn(self, inbound_id: int, messages: list[NewMessage]) -> list[Message]:
        """Store the turn's messages and mark the entry ``done``, in one transaction."""

    async def fail_turn(self, inbound_id: int, error: str) -> None:
        """Mark the entry ``failed`` with a reason; nothing of the turn is stored."""

    async def unfinished(self) -> list[Inbound]:
        """Entries left ``pending`` or ``processing`` (e.g. by a crash) that no running
        process owns (``blufio.workers``), oldest first."""

    async def reset_processing(self, *, channels: Optional[list] = None,
                               owner: Optional[str] = None) -> int:
        """Return entries a crash left ``processing`` (of ``channels``, or all; of one
        ``owner`` process, pending ones included, or all) to ``pending``, owned by nobody."""

    async def record_cost(self, entry: CostEntry) -> None: ...

    async def cost_since(self, since: str, *, session_id: Optional[str] = None) -> float:
        """USD spent since the ISO-8601 UTC time ``since``."""

    async def cost_entries(self, *, session_id: Optional[str] = None) -> list[CostEntry]: ...

    async def get_state(self, key: str) -> Optional[str]: ...

    async def set_state(self, key: str, value: str) -> None: ...

    # -- memory: saved memories, search over them and every stored message, summaries --
    # Items are numbered as in search: a message by its id, a memory by its id negated.

    async def save_memory(self, text: str, *, session_id: Optional[str] = None,
                          message_id: Optional[int] = None, channel: str = "",
                          tags: Sequence[str] = ()) -> Memory:
        """Save ``text`` to remember; UsageError when it is empty or too long."""

    async def get_memory(self, memory_id: int) -> Optional[Memory]: ...

    async def list_memories(self, *, limit: int = 50, offset: int = 0) -> list[Memory]:
        """Newest first."""

    async def count_memories(self) -> int: ...

    async def forget_memory(self, memory_id: int) -> bool:
        """Remove the memory, its index entries and its vector; False if there was none."""

    async def forget_message(self, message_id: int) -> bool:
        """Blank what a message said (the message stays) and unindex it; False if none."""

    async def search_memory(self, query: str, *, limit: int = 10,
                            vector: Optional[list[float]] = None, model: Optional[str] = None,
                            channel: Optional[str] = None, exclude_session: Optional[str] = None,
                            min_similarity: float = 0.0) -> list[MemoryHit]:
        """Memories and messages relevant to ``query``, best first: lexical (BM25) always,
        fused by reciprocal rank with the vector ranking when ``vector`` (made by
        ``model``) is given. Query syntax is never interpreted; an empty query finds
        nothing."""

    async def unembedded(self, model: str, *, limit: int = 64) -> list[tuple[int, str]]:
        """Up to ``limit`` ``(item, text)`` without a vector of ``model``, newest first."""

    async def store_vectors(self, model: str, pairs: list) -> None:
        """Store ``(item, vector or None)`` pairs made by ``model`` (None: nothing to embed)."""

    async def get_summary(self, session_id: str) -> Optional[tuple[int, str]]:
        """``(through_id, text)``: the summary standing for messages up to ``through_id``."""

    async def save_summary(self, session_id: str, through_id: int, text: str) -> None: ...

    # -- schedules (``blufio.scheduler``); times are ISO-8601 UTC strings as stored --------

    async def create_schedule(self, schedule: Schedule) -> Schedule:
        """Store ``schedule`` under a new short id (its ``id`` is ignored); return it."""

    async def get_schedule(self, schedule_id: str) -> Optional[Schedule]: ...

    async def list_schedules(self, *, target: Optional[str] = None) -> list[Schedule]:
        """Active schedules by next run, then the others."""

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Remove a schedule and its runs; False if there was none."""

    async def set_schedule_status(self, schedule_id: str, status: str, *, reason: str = "",
                                  next_run_at: Optional[str] = None,
                                  only_from: Optional[tuple] = None) -> Optional[Schedule]:
        """Set status, ``paused_reason`` and ``next_run_at`` (only from the statuses
        ``only_from`` when given); the schedule, or None when nothing changed."""

    async def request_schedule_run(self, schedule_id: str) -> bool:
        """Ask for one run now, besides the schedule's own times."""

    async def due_schedules(self, now: str, *, limit: int = 200) -> list[Schedule]:
        """Active schedules due at ``now``, and those asked to run now."""

    async def next_schedule_due(self) -> Optional[str]:
        """When the next run is due (a run asked for: at once); None if none is."""

    async def start_schedule_run(self, schedule_id: str, *, due_at: str, outcome: str,
                                 next_run_at: Optional[str], status: str,
                                 expected_next: Optional[str] = None, manual: bool = False,
                                 inbound: Optional[dict] = None, error: str = "",
                                 paused_reason: str = "", started_at: Optional[str] = None
                                 ) -> Optional[tuple[ScheduleRun, Optional[Inbound]]]:
        """In one transaction: check the schedule is still due as the caller saw it, record
        the run, queue ``inbound`` (the run's prompt) and move the schedule on. None when
        the schedule had changed, so a run never starts twice."""

    async def finish_schedule_run(self, run_id: int, outcome: str,
                                  error: str = "") -> Optional[ScheduleRun]:
        """End a running run, costed from the ledger while its entry was answered."""

    async def running_schedule_runs(self) -> list[tuple[ScheduleRun, Optional[str], str]]:
        """Unfinished runs with their inbound entry's status and error."""

    async def schedule_runs(self, schedule_id: str, *, limit: int = 20) -> list[ScheduleRun]:
        """The schedule's last runs, newest first."""

    async def scheduled_cost_since(self, since: str, *,
                                   schedule_id: Optional[str] = None) -> float:
        """USD spent by runs started since ``since`` (of one schedule, or all)."""


@runtime_checkable
class Channel(PluginAdapter, Protocol):
    """A way messages reach the agent and replies reach people (Telegram, the gateway).

    ``start`` begins receiving in the background and hands each message to ``agent``;
    ``deliver`` renders the reply to a message that was queued earlier (for instance one
    answered after a restart) to the conversation named by its ``reply_to``.
    """

    async def start(self, agent: Agent) -> None: ...

    async def deliver(self, inbound: Inbound, events: AsyncIterator[AgentEvent]) -> None: ...


@runtime_checkable
class Observability(PluginAdapter, Protocol):
    """Where the agent, channels and gateway record what happens. Labels stay
    low-cardinality: channel, direction, model, kind; never user text or ids."""

    def message(self, channel: str, direction: str) -> None: ...

    def tokens(self, model: str, kind: str, count: int) -> None: ...

    def turn_latency(self, channel: str, seconds: float) -> None: ...

    def first_token(self, channel: str, seconds: float) -> None: ...

    def provider_latency(self, model: str, seconds: float) -> None: ...

    def sessions_active(self, count: int) -> None: ...

    def budget_remaining(self, period: str, usd: float) -> None: ...

    def error(self, kind: str) -> None: ...

    def provider_call(self, provider: str, model: str, outcome: str) -> None:
        """A call to a provider plugin ended: ``outcome`` is ``ok`` or ``error``."""

    def fallback(self, failed: str, to: str) -> None:
        """A call moved from provider ``failed`` (it failed before any output) to ``to``."""

    def schedule_run(self, outcome: str) -> None:
        """A scheduled run ended: ``ok``, ``failed``, ``skipped`` or ``capped``."""

    def tool_call(self, source: str, tool: str, outcome: str, seconds: float) -> None:
        """A tool call ended: ``source`` is ``builtin`` or the skill's server (a configured
        name), ``outcome`` ``ok`` or ``error``."""


@runtime_checkable
class Auth(PluginAdapter, Protocol):
    """Verifies bearer tokens offline; ``verify`` returns the token's claims or None."""

    def verify(self, token: str) -> Optional[dict]: ...


@runtime_checkable
class TokenIssuer(Auth, Protocol):
    """An auth plugin that also issues and manages its tokens (``blufio auth``); its
    manifest lists the ``signed-tokens`` capability."""

    def issue(self, name: str = "", expires_in: Optional[int] = None) -> tuple[str, dict]:
        """Sign a new token; ``(token text, its record)``."""

    def tokens(self) -> list[dict]:
        """Every issued token's record with its ``state``, oldest first."""

    def revoke(self, token_id: str) -> Optional[dict]:
        """Revoke a token; its record as it was before, or None if there is no such id."""

    def rotate(self) -> tuple[str, int]:
        """Replace the signing key; ``(new key id, tokens that were active)``."""


@runtime_checkable
class Embedding(PluginAdapter, Protocol):
    """Turns texts into vectors of ``dimensions`` floats (0 until the first answer when the
    model decides). ``vector_model`` labels the vectors it makes: vectors of different
    labels are never compared, and a new label is re-embedded in the background. Failures
    raise ``blufio.errors.EmbeddingError``."""

    dimensions: int
    vector_model: str

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""


@runtime_checkable
class SkillRuntime(PluginAdapter, Protocol):
    """Runs skills (an MCP server's tools) for the agent, which offers them as tools.

    ``start`` begins whatever the skills need in the background and returns at once;
    ``list_skills`` is what the model may use now. ``run`` never raises: a skill that fails,
    times out or cannot be reached is an error result the model can read.
    """

    async def start(self) -> None: ...

    async def list_skills(self) -> list[dict]:
        """Each skill as ``{"name", "description", "input_schema"}``, plus optionally
        ``source`` and ``tool`` (the metrics labels: its server and its own name)."""

    async def invoke(self, name: str, arguments: dict) -> str:
        """The skill's text result; a ``ToolError`` carrying it when the skill failed."""

    async def run(self, name: str, arguments: dict) -> tuple[list, bool]:
        """``(content blocks, is_error)`` for a ``tool_result`` (images included)."""


CONTRACTS = {
    "channel": Channel,
    "provider": Provider,
    "storage": Storage,
    "embedding": Embedding,
    "observability": Observability,
    "auth": Auth,
    "skill_runtime": SkillRuntime,
}


def contract_problems(adapter, kind):
    """How ``adapter`` (an instance) breaks the contract of ``kind``, one line each; empty
    when it keeps it. Every attribute the Protocol declares must be there; every method must
    be ``async`` exactly where the contract's is and accept the contract's parameters."""
    problems = []
    for name, declared in _members(CONTRACTS[kind]).items():
        if not hasattr(adapter, name):
            problems.append(f"has no '{name}'")
        elif declared is not None:
            problem = _method_problem(name, declared, getattr(type(adapter), name, None))
            if problem:
                problems.append(problem)
    return problems


def _members(protocol):
    """``{name: function or None (a data attribute)}`` declared by ``protocol`` and the
    Protocols it extends."""
    members = {}
    for cls in reversed(protocol.__mro__):
        if cls is object or not getattr(cls, "_is_protocol", False) or cls is Protocol:
            continue
        members.update(dict.fromkeys(cls.__dict__.get("__annotations__", {})))
        members.update({name: value for name, value in vars(cls).items()
                        if inspect.isfunction(value) and not name.startswith("_")})
    return members


def _method_problem(name, declared, actual):
    if not callable(actual):
        return f"'{name}' is not a method"
    if inspect.iscoroutinefunction(declared) != inspect.iscoroutinefunction(actual):
        return f"'{name}' must {'' if inspect.iscoroutinefunction(declared) else 'not '}be async"
    return _parameter_problem(name, inspect.signature(declared), inspect.signature(actual))


def _parameter_problem(name, declared, actual):
    """Whether a method with signature ``actual`` accepts every call the contract's
    ``declared`` allows (``self`` aside)."""
    wanted = {p.name for p in list(declared.parameters.values())[1:]}
    given = list(actual.parameters.values())[1:]
    names = {p.name for p in given}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in given)
    missing = sorted(wanted - names) if not takes_any else []
    if missing:
        return f"'{name}' does not accept {', '.join(missing)}"
    extra = [p.name for p in given if p.name not in wanted and p.default is p.empty
             and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if extra:
        return f"'{name}' requires {', '.join(extra)}, which the contract does not pass"
    return None
