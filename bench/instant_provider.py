"""An Anthropic Messages API and OpenAI Chat Completions stand-in that answers instantly.

    python3 bench/instant_provider.py        # prints its base URL, serves until killed

Every ``POST /v1/messages`` gets the same short streamed reply (the documented event
sequence), and every ``POST /v1/chat/completions`` the same reply as Chat Completions chunks
(with usage, then ``[DONE]``), sent from pre-rendered bytes over keep-alive connections, so
it costs far less per request than the server it benchmarks. Tests use the scriptable fakes
in tests/fakes.
"""

import asyncio
import json


def _event(name, data):
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


_BODY = "".join([
    _event("message_start", {"type": "message_start", "message": {
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    _event("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}}),
    _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": "Hello"}}),
    _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": " there"}}),
    _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
    _event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                             "stop_sequence": None}, "usage": {"output_tokens": 2}}),
    _event("message_stop", {"type": "message_stop"}),
]).encode()


def _chunk(delta, finish_reason=None, **extra):
    return "data: " + json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
        "model": "gpt-4.1-mini", "choices": [] if delta is None else [
            {"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}) + "\n\n"


_CHAT_BODY = "".join([
    _chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hello"}),
    _chunk({"content": " there"}), _chunk({}, "stop"),
    _chunk(None, usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}),
    "data: [DONE]\n\n",
]).encode()


def _response(body):
    return (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nrequest-id: req_bench\r\n"
            b"content-length: %d\r\n\r\n" % len(body)) + body


_RESPONSE = _response(_BODY)
_CHAT_RESPONSE = _response(_CHAT_BODY)


async def _serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            writer.write(_CHAT_RESPONSE if b" /v1/chat/completions " in head[:80] else _RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(_serve, "127.0.0.1", 0, backlog=1024)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
