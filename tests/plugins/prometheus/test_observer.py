"""PrometheusObserver: recorded values in the exposition, promtool's lint, isolation, labels."""

import os
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from blufio.contracts import Observability
from blufio.plugins.prometheus.observer import MAX_VALUES, PrometheusObserver


def samples(observer):
    """``{(sample name, frozenset of labels): value}`` from the rendered exposition."""
    body, _ = observer.render()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode("utf-8"))
            for s in family.samples}


def value(observer, name, **labels):
    return samples(observer).get((name, frozenset(labels.items())))


def record_some_traffic(observer):
    for _ in range(3):
        observer.message("telegram", "in")
        observer.message("telegram", "out")
    observer.message("gateway", "in")
    observer.tokens("claude-sonnet-4-5", "input", 1200)
    observer.tokens("claude-sonnet-4-5", "input", 300)
    observer.tokens("claude-sonnet-4-5", "output", 250)
    observer.tokens("claude-sonnet-4-5", "cache_write", 1000)
    observer.tokens("claude-sonnet-4-5", "cache_read", 4000)
    observer.turn_latency("telegram", 0.8)
    observer.turn_latency("telegram", 3.0)
    observer.first_token("telegram", 0.4)
    observer.provider_latency("claude-sonnet-4-5", 2.2)
    observer.sessions_active(2)
    observer.budget_remaining("daily", 4.25)
    observer.budget_remaining("monthly", 87.5)
    observer.schedule_run("ok")
    observer.schedule_run("ok")
    observer.schedule_run("capped")
    observer.error("provider_overloaded")


@pytest.fixture
def observer(config):
    return PrometheusObserver(config)


def test_it_matches_the_observability_contract(observer):
    assert isinstance(observer, Observability)
    assert (observer.name, observer.adapter_type) == ("prometheus", "observability")


def test_the_exposition_carries_what_was_recorded(observer):
    record_some_traffic(observer)
    assert value(observer, "blufio_messages_total", channel="telegram", direction="in") == 3
    assert value(observer, "blufio_messages_total", channel="telegram", direction="out") == 3
    assert value(observer, "blufio_messages_total", channel="gateway", direction="in") == 1
    model = "claude-sonnet-4-5"
    assert value(observer, "blufio_tokens_total", model=model, kind="input") == 1500
    assert value(observer, "blufio_tokens_total", model=model, kind="output") == 250
    assert value(observer, "blufio_tokens_total", model=model, kind="cache_write") == 1000
    assert value(observer, "blufio_tokens_total", model=model, kind="cache_read") == 4000
    assert value(observer, "blufio_sessions_active") == 2
    assert value(observer, "blufio_budget_remaining_usd", period="daily") == 4.25
    assert value(observer, "blufio_budget_remaining_usd", period="monthly") == 87.5
    assert value(observer, "blufio_errors_total", kind="provider_overloaded") == 1
    assert value(observer, "blufio_schedule_runs_total", outcome="ok") == 2
    assert value(observer, "blufio_schedule_runs_total", outcome="capped") == 1

    latency = "blufio_response_latency_seconds"
    assert value(observer, f"{latency}_count", channel="telegram") == 2
    assert value(observer, f"{latency}_sum", channel="telegram") == pytest.approx(3.8)
    assert value(observer, f"{latency}_bucket", channel="telegram", le="1.0") == 1
    assert value(observer, f"{latency}_bucket", channel="telegram", le="5.0") == 2
    assert value(observer, f"{latency}_bucket", channel="telegram", le="+Inf") == 2
    first = "blufio_time_to_first_token_seconds"
    assert value(observer, f"{first}_bucket", channel="telegram", le="0.25") == 0
    assert value(observer, f"{first}_bucket", channel="telegram", le="0.5") == 1
    assert value(observer, "blufio_provider_latency_seconds_sum", model=model) == 2.2


def test_process_and_build_metrics_are_there(observer):
    names = {name for name, _ in samples(observer)}
    assert {"python_info", "blufio_build_info"} <= names
    if os.path.exists("/proc/self/stat"):  # the process collector reads /proc
        assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names


def test_every_blufio_metric_has_the_prefix_and_help(observer):
    record_some_traffic(observer)
    body, _ = observer.render()
    families = list(text_string_to_metric_families(body.decode()))
    ours = [f for f in families if not f.name.startswith(("process_", "python_"))]
    assert ours and all(f.name.startswith("blufio_") and f.documentation for f in ours)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (Debian: apt-get install prometheus)")
def test_promtool_accepts_the_exposition(observer):
    record_some_traffic(observer)
    body, _ = observer.render()
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                            timeout=60)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


def test_two_observers_share_nothing(config):
    first, second = PrometheusObserver(config), PrometheusObserver(config)
    first.message("telegram", "in")
    first.sessions_active(5)
    assert value(first, "blufio_messages_total", channel="telegram", direction="in") == 1
    assert value(second, "blufio_messages_total", channel="telegram", direction="in") is None
    assert value(second, "blufio_sessions_active") == 0


def test_closed_label_vocabularies_fold_unknown_values_into_other(observer):
    observer.message("telegram", "sideways")
    observer.tokens("m", "thinking", 7)
    observer.budget_remaining("weekly", 1.0)
    assert value(observer, "blufio_messages_total", channel="telegram", direction="other") == 1
    assert value(observer, "blufio_tokens_total", model="m", kind="other") == 7
    assert value(observer, "blufio_budget_remaining_usd", period="other") == 1.0


def test_open_labels_are_capped_so_cardinality_stays_low(observer):
    for i in range(MAX_VALUES * 3):
        observer.error(f"kind-{i}")
    observer.error("x" * 500)
    errors = {labels: v for (name, labels), v in samples(observer).items()
              if name == "blufio_errors_total"}
    assert len(errors) == MAX_VALUES + 1
    assert errors[frozenset({("kind", "other")})] == MAX_VALUES * 2 + 1
    # the first values keep their own series
    assert errors[frozenset({("kind", "kind-0")})] == 1


def test_odd_values_never_raise(observer):
    observer.tokens("m", "input", 0)
    observer.tokens("m", "input", -5)
    observer.turn_latency("shell", -1.0)
    observer.sessions_active(-3)
    observer.message(None, None)
    assert value(observer, "blufio_tokens_total", model="m", kind="input") is None
    assert value(observer, "blufio_response_latency_seconds_sum", channel="shell") == 0
    assert value(observer, "blufio_sessions_active") == 0


def test_render_negotiates_openmetrics(observer):
    observer.message("gateway", "in")
    body, content_type = observer.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    body, content_type = observer.render("text/html")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert b"blufio_messages_total" in body


def test_public_comes_from_the_configuration(monkeypatch, observer):
    from blufio.config import load_config

    assert observer.public is False
    monkeypatch.setenv("BLUFIO_PROMETHEUS__PUBLIC", "true")
    assert PrometheusObserver(load_config()).public is True


async def test_health_check_and_shutdown(observer):
    health = await observer.health_check()
    assert health["status"] == "ok"
    await observer.shutdown()
    await observer.shutdown()


def test_every_metric_is_documented(observer):
    record_some_traffic(observer)
    body, _ = observer.render()
    docs = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "metrics.md")
    with open(docs, encoding="utf-8") as f:
        documented = f.read()
    for family in text_string_to_metric_families(body.decode()):
        if family.name.endswith("_created"):  # documented once, for all of them
            continue
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in documented, f"{name} is missing from docs/metrics.md"
