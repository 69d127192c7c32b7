"""/ws with a real WebSocket client: streaming, interleaved conversations, error frames."""

import json
import threading

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.fakes.anthropic_server import paused_text_reply, slow_text_reply, text_reply

from .conftest import TOKEN


def ws_url(gateway, query=f"?token={TOKEN}"):
    return gateway.url.replace("http://", "ws://") + "/ws" + query


def frames_until_done(socket, count):
    """Read frames until ``count`` conversations ended (message or error); return them all."""
    frames, ended = [], 0
    while ended < count:
        frame = json.loads(socket.recv(timeout=10))
        frames.append(frame)
        ended += frame["type"] in ("message", "error")
    return frames


def test_a_message_streams_typing_deltas_and_the_final_message(gateway):
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "message", "content": "hello", "id": "q1"}))
        frames = frames_until_done(socket, 1)
    kinds = [f["type"] for f in frames]
    assert kinds[:2] == ["session", "typing"] and kinds[-1] == "message"
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == "echo: hello"
    final = frames[-1]
    assert final["content"] == [{"type": "text", "text": "echo: hello"}]
    assert final["usage"]["output_tokens"] > 0
    assert {f["id"] for f in frames} == {"q1"}
    assert len({f["session_id"] for f in frames}) == 1


def test_the_token_may_come_in_the_authorization_header(gateway):
    with connect(ws_url(gateway, ""), additional_headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
        socket.send(json.dumps({"type": "ping", "id": 7}))
        assert json.loads(socket.recv(timeout=5)) == {"type": "pong", "id": 7}


@pytest.mark.parametrize("query", ["", "?token=wrong"])
def test_a_missing_or_wrong_token_is_refused_with_401(gateway, query):
    with pytest.raises(InvalidStatus) as caught:
        connect(ws_url(gateway, query))
    assert caught.value.response.status_code == 401


def test_two_conversations_interleave_on_one_socket(gateway, fake_anthropic):
    fake_anthropic.add(text_reply("the first answer, told slowly", chunk_size=3),
                       text_reply("the second answer", chunk_size=3))
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "message", "content": "one", "id": "a"}))
        socket.send(json.dumps({"type": "message", "content": "two", "id": "b"}))
        frames = frames_until_done(socket, 2)
    by_id = {ref: [f for f in frames if f.get("id") == ref] for ref in ("a", "b")}
    finals = {ref: fs[-1] for ref, fs in by_id.items()}
    assert {f["type"] for f in finals.values()} == {"message"}
    texts = sorted(f["content"][0]["text"] for f in finals.values())
    assert texts == ["the first answer, told slowly", "the second answer"]
    assert finals["a"]["session_id"] != finals["b"]["session_id"]
    for ref, fs in by_id.items():  # each conversation's deltas add up to its own reply
        assert "".join(f["text"] for f in fs if f["type"] == "delta") == finals[ref]["content"][0]["text"]


def test_a_conversation_continues_with_its_session_id(gateway, fake_anthropic):
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "message", "content": "first"}))
        session_id = frames_until_done(socket, 1)[-1]["session_id"]
        socket.send(json.dumps({"type": "message", "content": "second", "session_id": session_id}))
        frames = frames_until_done(socket, 1)
    assert frames[-1]["session_id"] == session_id and "session" not in [f["type"] for f in frames]
    assert gateway.call(gateway.storage.get_session(session_id)).message_count == 4


@pytest.mark.parametrize("frame, message", [
    ("not json", "JSON"),
    ("[1]", "JSON object"),
    (json.dumps({"type": "dance"}), "unknown frame type"),
    (json.dumps({"type": "message", "content": ""}), "content"),
    (json.dumps({"type": "message", "content": "x", "session_id": "nope"}), "no session"),
    (json.dumps({"type": "message", "content": "x" * 1_100_000}), "too large"),
])
def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(gateway, frame, message):
    with connect(ws_url(gateway), max_size=None) as socket:
        socket.send(frame)
        error = json.loads(socket.recv(timeout=5))
        assert error["type"] == "error" and message in error["error"]["message"]
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=5))["type"] == "pong"
    assert gateway.call(gateway.storage.count_sessions()) == 0


def test_a_text_block_without_text_gets_an_error_frame(gateway):
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "message", "content": [{"type": "text"}], "id": "t"}))
        error = json.loads(socket.recv(timeout=5))
    assert error == {"type": "error", "id": "t", "error": {
        "type": "invalid_request_error", "message": "content.0.text: field required: a string"}}
    assert gateway.call(gateway.storage.count_sessions()) == 0


@pytest.mark.parametrize("content", ["", [], 5, [{"type": "text"}], [{"text": "no type"}],
                                     [{"type": "text", "text": 1}]])
def test_content_is_checked_as_post_v1_messages_checks_it(gateway, content):
    import httpx

    response = httpx.post(f"{gateway.url}/v1/messages", headers=gateway.auth(), json={
        "model": "any", "max_tokens": 5, "messages": [{"role": "user", "content": content}]})
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "message", "content": content}))
        frame = json.loads(socket.recv(timeout=5))
    assert response.status_code == 400 and frame["type"] == "error"
    assert frame["error"]["type"] == response.json()["error"]["type"]
    assert "messages.0." + frame["error"]["message"] == response.json()["error"]["message"]


def first_frame_of(socket, kind):
    """Frames read until one of ``kind``; return them all."""
    frames = []
    while not frames or frames[-1]["type"] != kind:
        frames.append(json.loads(socket.recv(timeout=10)))
    return frames


def test_cancel_stops_the_turn_and_stores_what_was_said(gateway, fake_anthropic):
    fake_anthropic.add(slow_text_reply("a long answer that goes on and on", pause=0.5))
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "message", "content": "talk", "id": "m"}))
        session_id = first_frame_of(socket, "delta")[-1]["session_id"]
        socket.send(json.dumps({"type": "cancel", "session_id": session_id, "id": "c"}))
        final = frames_until_done(socket, 1)[-1]
    assert final["type"] == "message" and final["stop_reason"] == "cancelled"
    assert final["id"] == "m" and final["content"] == [{"type": "text", "text": "a long"}]
    stored = gateway.call(gateway.storage.get_messages(session_id))
    assert [m.role for m in stored] == ["user", "assistant"]


def test_cancel_with_nothing_in_flight_is_a_404_frame(gateway):
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "cancel", "session_id": "s1", "id": "c"}))
        frame = json.loads(socket.recv(timeout=5))
        socket.send(json.dumps({"type": "cancel", "id": "c2"}))
        missing = json.loads(socket.recv(timeout=5))
    assert frame["type"] == "error" and frame["id"] == "c"
    assert frame["error"]["type"] == "not_found_error"
    assert missing["error"]["message"].startswith("session_id: field required")


def test_a_turn_outlives_its_socket_and_a_new_one_resumes_it(gateway, fake_anthropic):
    released = threading.Event()  # the model pauses after its first delta until this is set
    fake_anthropic.add(paused_text_reply("first part, then the rest of it", released))
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "message", "content": "go", "id": "m"}))
        session_id = first_frame_of(socket, "delta")[-1]["session_id"]
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "resume", "session_id": session_id, "id": "r"}))
        caught_up = json.loads(socket.recv(timeout=10))
        released.set()
        frames = [caught_up, *frames_until_done(socket, 1)]
    assert caught_up["type"] == "turn" and caught_up["id"] == "r"
    text = caught_up["text"] + "".join(f["text"] for f in frames if f["type"] == "delta")
    assert text == "first part, then the rest of it" == frames[-1]["content"][0]["text"]
    assert gateway.call(gateway.storage.get_session(session_id)).message_count == 2


def test_resume_with_no_turn_in_flight_answers_idle(gateway):
    with connect(ws_url(gateway)) as socket:
        socket.send(json.dumps({"type": "resume", "session_id": "s1", "id": "r"}))
        assert json.loads(socket.recv(timeout=5)) == {"type": "idle", "session_id": "s1", "id": "r"}


def test_stopping_the_gateway_closes_open_sockets_at_once(gateway_env):
    from .conftest import RunningGateway

    running = RunningGateway().start()
    with connect(ws_url(running)) as socket:
        running.stop()
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd.code == 1001  # going away, not left open until the drain timeout
