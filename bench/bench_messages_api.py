"""Messages API benchmark: the gateway's overhead with a client's system and tools merged,
and how long finding a stateless client's session takes among many.

    python3 bench/bench_messages_api.py [--pyz dist/blufio.pyz] [--requests 200]

Like bench_gateway.py, it starts the instant Anthropic stand-in (bench/instant_provider.py)
and ``blufio serve`` as real processes, and measures against a baseline in the same run:

- non-streaming overhead: p50 of a gateway turn whose request carries a Claude-Code-like
  system (3 blocks), 12 client tools and sampling settings, minus p50 of the same streamed
  call made straight to the stand-in (with the merged system and tools, as the agent sends it);
- time to first delta: the same, streamed;
- session matching: finding the session a re-sent 40-message conversation continues, in
  process (digest chain + lookup), with 1,000 stored sessions against 1 stored session;
- request checks: decoding and checking that request body (system, tools, messages) and
  making its turn options, in process: the part of the overhead this issue added.

On a loaded machine the end-to-end figures swing by several milliseconds between runs (the
plain-gateway figures of bench_gateway.py swing alike): compare the in-process ones.

Targets (issue 10): overhead p50 <= 3 ms; first-delta overhead <= 5 ms; matching <= 1 ms
with 1,000 stored sessions.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import httpx  # noqa: E402
from bench_gateway import (TOKEN, first_delta_times, instant_provider, ms,  # noqa: E402
                           start_serve, timed_json)

SYSTEM = [{"type": "text", "text": "You are a coding agent. " * 40},
          {"type": "text", "text": "Follow the project's conventions. " * 20},
          {"type": "text", "text": "Today is Tuesday."}]
TOOLS = [{"name": f"client_tool_{n}", "description": "Does a thing. " * 10,
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                           "required": ["path"]}} for n in range(12)]
BODY = {"model": "m", "max_tokens": 32, "system": SYSTEM, "tools": TOOLS, "temperature": 0.5,
        "messages": [{"role": "user", "content": "hello"}]}
PROVIDER_BODY = {**BODY, "stream": True, "system": [{"type": "text", "text": "s"}, *SYSTEM]}


async def matching_times(sessions, messages=40, samples=2000):
    """Seconds to find the session of a re-sent ``messages``-long conversation among
    ``sessions`` stored ones (digest chain of the history, then the lookup)."""
    from blufio.plugins.gateway.sessions import Transcripts, chain

    def conversation(number):
        return [{"role": "user" if i % 2 == 0 else "assistant",
                 "content": [{"type": "text", "text": f"session {number} message {i} " * 8}]}
                for i in range(messages)]

    transcripts = Transcripts(storage=None)
    for number in range(sessions):
        transcripts.put(f"s{number}", chain(conversation(number)[:-1])[-1])
    wanted = conversation(sessions // 2)
    history = wanted[:-1]
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        found = await transcripts.find(chain(history))
        times.append(time.perf_counter() - started)
        assert found == (f"s{sessions // 2}", len(history)), found
    return times


def request_check_times(samples=3000):
    """Seconds to decode and check BODY and make its turn options, in process."""
    import json

    from blufio.plugins.gateway.messages import parse_body
    from blufio.plugins.gateway.request import parse_messages_request

    raw = json.dumps(BODY).encode()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        request = parse_messages_request(parse_body(raw))
        request.turn_options(models=["m"], default_model="m", server_tools={"current_time"})
        times.append(time.perf_counter() - started)
    return times


async def main(args):
    with instant_provider() as fake_url, tempfile.TemporaryDirectory() as data_dir:
        process, url = start_serve(fake_url, args.pyz, data_dir)
        try:
            provider_headers = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}
            gateway_headers = {"x-api-key": TOKEN}
            async with httpx.AsyncClient(timeout=60) as client:
                for _ in range(2):  # warm both paths
                    await timed_json(client, f"{fake_url}/v1/messages", provider_headers,
                                     PROVIDER_BODY, 20)
                    await timed_json(client, f"{url}/v1/messages", gateway_headers, BODY, 20)
                direct = await timed_json(client, f"{fake_url}/v1/messages", provider_headers,
                                          PROVIDER_BODY, args.requests)
                through = await timed_json(client, f"{url}/v1/messages", gateway_headers, BODY,
                                           args.requests)
                direct_first = await first_delta_times(client, f"{fake_url}/v1/messages",
                                                       provider_headers, PROVIDER_BODY,
                                                       args.requests)
                through_first = await first_delta_times(client, f"{url}/v1/messages",
                                                        gateway_headers, {**BODY, "stream": True},
                                                        args.requests)
        finally:
            process.terminate()
            process.wait(60)
    checks = request_check_times()
    one = await matching_times(1)
    many = await matching_times(1000)

    p50 = statistics.median
    print(f"{'figure':48} {'baseline':>10} {'gateway':>10} {'overhead':>10}  target")
    print(f"{'non-streaming turn, system+tools, p50 (ms)':48} {ms(p50(direct)):10.2f} "
          f"{ms(p50(through)):10.2f} {ms(p50(through) - p50(direct)):10.2f}  <= 3 ms")
    print(f"{'time to first delta, system+tools, p50 (ms)':48} {ms(p50(direct_first)):10.2f} "
          f"{ms(p50(through_first)):10.2f} {ms(p50(through_first) - p50(direct_first)):10.2f}"
          "  <= 5 ms")
    p99 = sorted(many)[int(len(many) * 0.99)]
    print(f"{'session matching, 40 messages, p50 (ms)':48} {ms(p50(one)):10.3f} "
          f"{ms(p50(many)):10.3f} {p50(many) / p50(one):9.2f}x  <= 1 ms (1,000 sessions; "
          f"baseline: 1 session; p99 {ms(p99):.3f} ms)")
    print(f"{'request checks, system+12 tools, p50 (ms)':48} {'':10} {ms(p50(checks)):10.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", help="serve from this archive instead of the checkout")
    parser.add_argument("--requests", type=int, default=200, help="samples per latency figure")
    asyncio.run(main(parser.parse_args()))
