"""``/v1/memories`` on the real gateway: list, search, save and forget, with a token."""

import httpx
import pytest


def test_a_memory_is_saved_listed_found_and_forgotten(gateway):
    url, auth = f"{gateway.url}/v1/memories", gateway.auth()
    saved = httpx.post(url, json={"text": "My locker code is 4471", "tags": ["gym"]},
                       headers=auth)
    assert saved.status_code == 201
    memory = saved.json()
    assert memory["id"] == "mem_1" and memory["tags"] == ["gym"]
    assert memory["channel"] == "gateway"

    listed = httpx.get(url, headers=auth).json()
    assert listed["data"] == [memory] and listed["total"] == 1
    assert listed["has_more"] is False

    found = httpx.get(url, params={"q": "LOCKER code?"}, headers=auth).json()
    assert [(h["id"], h["kind"], h["text"]) for h in found["data"]] == [
        ("mem_1", "memory", "My locker code is 4471")]

    forgot = httpx.delete(f"{url}/mem_1", headers=auth)
    assert forgot.status_code == 200 and forgot.json() == {"id": "mem_1", "deleted": True}
    assert httpx.get(url, params={"q": "locker"}, headers=auth).json()["data"] == []
    again = httpx.delete(f"{url}/mem_1", headers=auth)
    assert again.status_code == 404 and again.json()["type"] == "error"


def test_search_covers_every_stored_message(gateway, fake_anthropic):
    auth = gateway.auth()
    httpx.post(f"{gateway.url}/v1/messages", headers=auth, timeout=30, json={
        "model": "x", "max_tokens": 50,
        "messages": [{"role": "user", "content": "the plumber comes on Thursday"}]})
    found = httpx.get(f"{gateway.url}/v1/memories", params={"q": "plumber"}, headers=auth)
    hits = found.json()["data"]
    assert {h["role"] for h in hits} == {"user", "assistant"}
    assert all(h["id"].startswith("msg_") and h["channel"] == "gateway" for h in hits)
    user = next(h for h in hits if h["role"] == "user")
    assert httpx.delete(f"{gateway.url}/v1/memories/{user['id']}",
                        headers=auth).status_code == 200
    session = httpx.get(f"{gateway.url}/v1/sessions/{user['session_id']}", headers=auth)
    assert session.json()["messages"][0]["content"] == [{"type": "text", "text": "[forgotten]"}]


@pytest.mark.parametrize("body, message", [
    (b"", "the request body is empty"),
    (b"[1]", "must be a JSON object"),
    (b'{"text": 5}', "text: required, a string"),
    (b'{"text": "   "}', "a memory needs some text"),
    (b'{"text": "' + b"x" * 5000 + b'"}', "at most 4000 characters"),
    (b'{"text": "ok", "tags": "gym"}', "tags: must be a list of strings"),
    (b'{"text": "\\ud800 lone surrogate"}', None),
])
def test_bad_bodies_get_a_400_in_anthropics_envelope(gateway, body, message):
    response = httpx.post(f"{gateway.url}/v1/memories", content=body, headers={
        **gateway.auth(), "content-type": "application/json"})
    if message is None:  # not valid UTF-8 once encoded: stored with a replacement character
        assert response.status_code == 201
        assert response.json()["text"] == "\ufffd lone surrogate"
        return
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]


@pytest.mark.parametrize("query, message", [
    ("q=", "q: must not be empty"), ("q=%20", "q: must not be empty"),
    ("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset"),
])
def test_bad_queries_get_a_400(gateway, query, message):
    response = httpx.get(f"{gateway.url}/v1/memories?{query}", headers=gateway.auth())
    assert response.status_code == 400 and message in response.json()["error"]["message"]


@pytest.mark.parametrize("query", ['"', "NEAR(a b", "a*", "(((", "AND OR"])
def test_fts5_syntax_in_q_is_searched_as_text(gateway, query):
    response = httpx.get(f"{gateway.url}/v1/memories", params={"q": query},
                         headers=gateway.auth())
    assert response.status_code == 200


def test_a_malformed_id_is_a_400(gateway):
    response = httpx.delete(f"{gateway.url}/v1/memories/locker", headers=gateway.auth())
    assert response.status_code == 400 and "is not a memory id" in \
        response.json()["error"]["message"]
