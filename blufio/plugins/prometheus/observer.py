"""``PrometheusObserver``: the Observability contract on a private prometheus-client registry.

Each observer owns its ``CollectorRegistry`` (with the process, platform and GC collectors on
it), so two observers in one process (two apps, two tests) never share a series. Every
metric is named ``blufio_*``; ``docs/metrics.md`` lists them with their labels.

Labels stay low-cardinality whatever the callers pass: ``direction``, token ``kind`` and
budget ``period`` have closed vocabularies (anything else is counted as ``other``), and the
open ones (``channel``, ``model``, error ``kind``) are cut to 64 characters and capped at
``MAX_VALUES`` distinct values per metric, after which new values are counted as ``other``.
Recording never raises into the agent.

With several workers (``[gateway] workers``) each worker records into prometheus-client's
multiprocess files (the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before the worker
starts, so the library stores values there from its import on), and ``render`` adds up every
worker's files: counters and histograms are totals of the service whichever worker answers
(a dead worker's counts stay), ``blufio_sessions_active`` sums the live workers, the budget
shows the latest value set. The process and GC metrics describe one process, so they are
left out then.
"""

import os

from prometheus_client import (CollectorRegistry, Counter, Gauge, GCCollector, Histogram,
                               PlatformCollector, ProcessCollector)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, generate_latest

import blufio
from blufio import build_record
from blufio.manifest import identity

MAX_VALUES = 32  # distinct values of one open label, per metric
OTHER = "other"
DIRECTIONS = frozenset({"in", "out"})
TOKEN_KINDS = frozenset({"input", "output", "cache_write", "cache_read"})
BUDGET_PERIODS = frozenset({"daily", "monthly"})
OUTCOMES = frozenset({"ok", "error"})  # of a provider call and of a tool call
RUN_OUTCOMES = frozenset({"ok", "failed", "skipped", "capped"})

# Seconds. A turn spans tool calls and long answers; the first token usually comes in 0.3-3 s.
RESPONSE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)
# Seconds. A tool call is a file read (ms) or a remote service (seconds).
TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # set: every worker's values, added up


class PrometheusObserver:
    """Records what the agent, channels and gateway do, and renders it for ``/metrics``.

    ``public`` is ``[prometheus] public``: whether the gateway serves ``/metrics`` without a
    token. ``render(accept)`` returns ``(body, content_type)``.
    """

    name, version, adapter_type = identity("prometheus")

    def __init__(self, config=None, **_services):
        self.public = bool(config.get("prometheus.public")) if config is not None else False
        self.registry = registry = CollectorRegistry()
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_DIR) or None
        if self.multiprocess_dir is None:
            for collector in (ProcessCollector, PlatformCollector, GCCollector):
                collector(registry=registry)

        def metric(kind, name, documentation, labels=(), **options):
            return kind(name, documentation, labels, registry=registry, **options)

        build = metric(Gauge, "blufio_build_info", "Blufio's version and build target (always 1)",
                       ("version", "target"), multiprocess_mode="max")
        build.labels(blufio.__version__, str(build_record.current().get("target", ""))).set(1)
        self._messages = _Labelled(metric(
            Counter, "blufio_messages", "Messages processed, by channel and direction (in, out)",
            ("channel", "direction")), (None, DIRECTIONS))
        self._tokens = _Labelled(metric(
            Counter, "blufio_tokens", "Model tokens used, by model and kind "
            "(input, output, cache_write, cache_read)", ("model", "kind")), (None, TOKEN_KINDS))
        self._sessions = metric(Gauge, "blufio_sessions_active",
                                "Sessions with a turn in progress or open on a channel",
                                multiprocess_mode="livesum")
        self._response = _Labelled(metric(
            Histogram, "blufio_response_latency_seconds",
            "Seconds from a message's arrival to the end of its reply, by channel",
            ("channel",), buckets=RESPONSE_BUCKETS), (None,))
        self._first_token = _Labelled(metric(
            Histogram, "blufio_time_to_first_token_seconds",
            "Seconds from a message's arrival to the first streamed output, by channel",
            ("channel",), buckets=FIRST_TOKEN_BUCKETS), (None,))
        self._provider = _Labelled(metric(
            Histogram, "blufio_provider_latency_seconds",
            "Seconds a model provider request took, by model",
            ("model",), buckets=RESPONSE_BUCKETS), (None,))
        self._budget = _Labelled(metric(
            Gauge, "blufio_budget_remaining_usd",
            "USD left in the daily and monthly budgets", ("period",),
            multiprocess_mode="mostrecent"), (BUDGET_PERIODS,))
        self._errors = _Labelled(metric(
            Counter, "blufio_errors", "Errors, by kind", ("kind",)), (None,))
        self._provider_calls = _Labelled(metric(
            Counter, "blufio_provider_calls", "Calls to model providers, by provider, model "
            "and outcome (ok, error)", ("provider", "model", "outcome")),
            (None, None, OUTCOMES))
        self._fallbacks = _Labelled(metric(
            Counter, "blufio_provider_fallbacks", "Calls that moved to the next provider after "
            "one failed before any output, by the provider that failed and the next one",
            ("from", "to")), (None, None))
        self._schedule_runs = _Labelled(metric(
            Counter, "blufio_schedule_runs", "Scheduled runs, by outcome (ok, failed, "
            "skipped, capped)", ("outcome",)), (RUN_OUTCOMES,))
        self._tool_calls = _Labelled(metric(
            Counter, "blufio_tool_calls", "Tool calls, by server (builtin, or the MCP server's "
            "configured name), tool and outcome (ok, error)", ("server", "tool", "outcome")),
            (None, None, OUTCOMES))
        self._tool_latency = _Labelled(metric(
            Histogram, "blufio_tool_latency_seconds", "Seconds a tool call took, by server and "
            "tool", ("server", "tool"), buckets=TOOL_BUCKETS), (None, None))

    # -- the Observability contract -------------------------------------------------------

    def message(self, channel, direction):
        self._messages(channel, direction).inc()

    def tokens(self, model, kind, count):
        if count > 0:
            self._tokens(model, kind).inc(count)

    def turn_latency(self, channel, seconds):
        self._response(channel).observe(max(seconds, 0.0))

    def first_token(self, channel, seconds):
        self._first_token(channel).observe(max(seconds, 0.0))

    def provider_latency(self, model, seconds):
        self._provider(model).observe(max(seconds, 0.0))

    def sessions_active(self, count):
        self._sessions.set(max(count, 0))

    def budget_remaining(self, period, usd):
        self._budget(period).set(usd)

    def error(self, kind):
        self._errors(kind).inc()

    def provider_call(self, provider, model, outcome):
        self._provider_calls(provider, model, outcome).inc()

    def fallback(self, failed, to):
        self._fallbacks(failed, to).inc()

    def schedule_run(self, outcome):
        self._schedule_runs(outcome).inc()

    def tool_call(self, source, tool, outcome, seconds):
        self._tool_calls(source, tool, outcome).inc()
        self._tool_latency(source, tool).observe(max(seconds, 0.0))

    # -- exposition and lifecycle ---------------------------------------------------------

    def render(self, accept=None):
        """The exposition for ``/metrics``: ``(body bytes, Content-Type)``.

        ``accept`` is the request's Accept header; OpenMetrics is served when it asks for
        it, the Prometheus text format (0.0.4) otherwise.
        """
        registry = self.registry
        if self.multiprocess_dir is not None:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
        if not accept:
            return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4
        encoder, content_type = choose_encoder(accept)
        return encoder(registry), content_type

    async def health_check(self):
        return {"status": "ok", "detail": "metrics at /metrics"
                + (" (public)" if self.public else " (token required)")}

    async def shutdown(self):
        pass  # nothing is held open: the registry lives and dies with the observer


class _Labelled:
    """A labelled metric whose children are cached and whose label values are bounded.

    ``vocabularies`` has one entry per label: a frozenset of the accepted values (anything
    else becomes ``other``) or None for an open label, capped at ``MAX_VALUES`` values.
    """

    __slots__ = ("metric", "vocabularies", "children", "seen")

    def __init__(self, metric, vocabularies):
        self.metric = metric
        self.vocabularies = vocabularies
        self.children = {}  # raw label values -> child, the hot path
        self.seen = [set() for _ in vocabularies]  # clean values in use, per label

    def __call__(self, *values):
        child = self.children.get(values)
        if child is None:
            child = self._add(values)
        return child

    def _add(self, values):
        clean = tuple(self._clean(i, value) for i, value in enumerate(values))
        child = self.metric.labels(*clean)
        if len(self.children) < 8 * MAX_VALUES:  # garbage callers must not grow the cache
            self.children[values] = child
        return child

    def _clean(self, index, value):
        value = str(value)[:64] if value is not None else OTHER
        vocabulary = self.vocabularies[index]
        if vocabulary is not None:
            return value if value in vocabulary else OTHER
        seen = self.seen[index]
        if value not in seen:
            if len(seen) >= MAX_VALUES:
                return OTHER
            seen.add(value)
        return value
