"""A streamed reply while the agent is busy: pings keep the stream alive between deltas."""

import httpx

from tests.fakes.anthropic_server import FakeResponse, Stall, text_reply


def test_a_busy_agent_sends_pings_between_deltas_and_the_reply_completes(
        gateway, fake_anthropic, monkeypatch):
    from blufio.plugins.gateway import replies

    monkeypatch.setattr(replies, "PING_INTERVAL", 0.05)
    reply = text_reply("slow and steady", chunk_size=5)
    parts = reply.parts  # message_start, ping, content_block_start, three deltas, ...
    fake_anthropic.add(FakeResponse(headers=reply.headers, parts=[
        *parts[:3], Stall(0.15), *parts[3:5], Stall(0.2), *parts[5:]]))
    response = httpx.post(f"{gateway.url}/v1/messages", headers=gateway.auth(), timeout=20, json={
        "model": "any", "max_tokens": 50, "stream": True,
        "messages": [{"role": "user", "content": "hello"}]})
    names = [block.split("\n")[0].removeprefix("event: ")
             for block in response.text.strip().split("\n\n")]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    first_delta = names.index("content_block_delta")
    assert "ping" in names[first_delta:]
    assert "ping" not in names[:first_delta]  # nothing is sent before the first output
    assert names.count("content_block_start") == 1
