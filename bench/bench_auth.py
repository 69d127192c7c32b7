"""Benchmarks for the keypair and prometheus plugins, each against its baseline in one run.

    .venv/bin/python bench/bench_auth.py [--quick]

1. ``KeypairAuth.verify`` of a signed token vs the gateway's static-token check
   (``hmac.compare_digest``): target at most 0.2 ms added per request.
2. Recording one agent turn's metrics on ``PrometheusObserver`` vs ``NullObserver``:
   target at most 0.1 ms added per turn.
3. ``PrometheusObserver.render()`` after realistic traffic: target at most 10 ms.

Figures are medians over repeated rounds. Nothing here is asserted by the test suite; the
targets are printed beside the results. Runs in a throw-away data directory.
"""

import hmac
import os
import secrets
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VERIFY_TARGET_US = 200.0
TURN_TARGET_US = 100.0
RENDER_TARGET_MS = 10.0


def per_call_us(fn, calls, rounds):
    """Median over ``rounds`` of the mean microseconds per call of ``fn`` over ``calls``."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(results)


def report(label, value, unit, baseline=None, target=None):
    line = f"  {label:<46} {value:10.2f} {unit}"
    if baseline is not None:
        line += f"   +{value - baseline:.2f} {unit} over the baseline ({value / baseline:,.0f}x)"
    if target is not None:
        line += f"   [{'ok' if value - (baseline or 0) <= target else 'OVER'}: target " \
                f"{'+' if baseline is not None else ''}{target:g} {unit}]"
    print(line)


def bench_verify(config, calls, rounds):
    from blufio.plugins.keypair.auth import KeypairAuth

    auth = KeypairAuth(config)
    token, _ = auth.issue("bench", 3600)
    static = secrets.token_urlsafe(32).encode()
    presented = bytes(static)

    def cold():
        auth._verified.clear()  # every request a token never seen before
        auth.verify(token)

    print("verify a bearer token (per request)")
    baseline = per_call_us(lambda: hmac.compare_digest(presented, static), calls, rounds)
    report("static token, hmac.compare_digest (baseline)", baseline, "us")
    report("signed token, first sight (Ed25519 verify)", per_call_us(cold, calls // 4, rounds),
           "us", baseline, VERIFY_TARGET_US)
    report("signed token, seen before (cached signature)",
           per_call_us(lambda: auth.verify(token), calls, rounds), "us", baseline,
           VERIFY_TARGET_US)
    report("static token passed to verify (rejected fast)",
           per_call_us(lambda: auth.verify(static.decode()), calls, rounds), "us", baseline,
           VERIFY_TARGET_US)


def record_turn(observer, channel="telegram", model="claude-sonnet-4-5"):
    """What the agent records for one turn."""
    observer.message(channel, "in")
    observer.sessions_active(3)
    observer.first_token(channel, 0.42)
    observer.provider_latency(model, 1.8)
    observer.tokens(model, "input", 1200)
    observer.tokens(model, "output", 310)
    observer.tokens(model, "cache_write", 0)
    observer.tokens(model, "cache_read", 5400)
    observer.budget_remaining("daily", 3.75)
    observer.budget_remaining("monthly", 61.2)
    observer.turn_latency(channel, 2.1)
    observer.message(channel, "out")


def realistic_traffic(observer, turns):
    channels = ("telegram", "gateway", "ws")
    models = ("claude-sonnet-4-5", "claude-haiku-4-5")
    errors = ("provider_overloaded", "provider_timeout", "budget_exceeded", "tool_failed",
              "bad_request", "unauthorized", "telegram_network", "storage_busy")
    for i in range(turns):
        record_turn(observer, channels[i % 3], models[i % 2])
        if i % 50 == 0:
            observer.error(errors[i % len(errors)])
        observer.turn_latency(channels[i % 3], (i % 97) / 3.0)
        observer.first_token(channels[i % 3], (i % 41) / 8.0)


def bench_observer(config, calls, rounds):
    from blufio.observability import NullObserver
    from blufio.plugins.prometheus.observer import PrometheusObserver

    print("record one turn's metrics (12 calls)")
    null = NullObserver()
    baseline = per_call_us(lambda: record_turn(null), calls, rounds)
    report("NullObserver (baseline)", baseline, "us")
    observer = PrometheusObserver(config)
    report("PrometheusObserver", per_call_us(lambda: record_turn(observer), calls, rounds), "us",
           baseline, TURN_TARGET_US)

    print("render /metrics")
    busy = PrometheusObserver(config)
    realistic_traffic(busy, 10_000)
    body, _ = busy.render()
    render_ms = per_call_us(busy.render, 20, rounds) / 1000
    report(f"render() after 10,000 turns ({len(body):,} bytes)", render_ms, "ms",
           target=RENDER_TARGET_MS)


def main(argv):
    quick = "--quick" in argv
    calls, rounds = (2_000, 5) if quick else (20_000, 9)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(BLUFIO_DATA_DIR=os.path.join(tmp, "data"),
                          XDG_CONFIG_HOME=os.path.join(tmp, "config"))
        for name in [n for n in os.environ if n.startswith("BLUFIO_") and n != "BLUFIO_DATA_DIR"]:
            del os.environ[name]
        os.chdir(tmp)
        from blufio.config import load_config

        config = load_config()
        print(f"python {sys.version.split()[0]}; medians of {rounds} rounds")
        bench_verify(config, calls, rounds)
        bench_observer(config, calls, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
