"""The embeddings plugin over real HTTP against the fake OpenAI-compatible server."""

import math
import socket

import pytest

from blufio.errors import EmbeddingError
from blufio.plugins.embeddings.client import MAX_INPUT_CHARS, OpenAICompatibleEmbedding
from tests.fakes.anthropic_server import Drop, FakeResponse
from tests.fakes.config import make_config
from tests.fakes.embeddings_server import (FakeEmbeddings, concept_vector, embeddings_reply,
                                           openai_error)


@pytest.fixture
def fake():
    with FakeEmbeddings(dimensions=16, api_key="sk-emb") as server:
        yield server


def client_for(tmp_path, base_url, extra="", api_key="sk-emb"):
    config = make_config(tmp_path, f'[embeddings]\nbase_url = "{base_url}"\n'
                         f'api_key = "{api_key}"\ntimeout = 1.0\n{extra}')
    client = OpenAICompatibleEmbedding(config)
    client.backoff_base = 0.01
    return client


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


async def test_texts_come_back_as_vectors_in_order(tmp_path, fake):
    client = client_for(tmp_path, fake.base_url, 'model = "fake-embed"')
    try:
        vectors = await client.embed(["my locker code", "the cabinet combination", "tuna"])
    finally:
        await client.shutdown()
    assert [len(v) for v in vectors] == [16, 16, 16]
    assert vectors[0] == pytest.approx(concept_vector("my locker code", 16))
    assert cosine(vectors[0], vectors[1]) > 0.9 > abs(cosine(vectors[0], vectors[2]))
    assert client.dimensions == 16
    request = fake.message_requests[0]
    assert request.headers["authorization"] == "Bearer sk-emb"
    assert request.json == {"model": "fake-embed", "input": ["my locker code",
                            "the cabinet combination", "tuna"], "encoding_format": "float"}


async def test_the_base_url_may_be_given_with_or_without_v1(tmp_path, fake):
    root = fake.base_url.removesuffix("/v1")
    client = client_for(tmp_path, root + "/")
    try:
        assert len(await client.embed(["x"])) == 1
    finally:
        await client.shutdown()
    assert fake.message_requests[0].path == "/v1/embeddings"


async def test_texts_are_sent_in_batches(tmp_path, fake):
    client = client_for(tmp_path, fake.base_url, "batch_size = 2")
    try:
        vectors = await client.embed(["a", "b", "c", "d", "e"])
    finally:
        await client.shutdown()
    assert len(vectors) == 5
    assert fake.inputs() == [["a", "b"], ["c", "d"], ["e"]]


async def test_configured_dimensions_are_asked_for_and_checked(tmp_path, fake):
    client = client_for(tmp_path, fake.base_url, "dimensions = 8")
    try:
        assert len((await client.embed(["x"]))[0]) == 8
        assert fake.message_requests[0].json["dimensions"] == 8
        fake.add(embeddings_reply([[0.1] * 12]))
        with pytest.raises(EmbeddingError, match="12 dimensions where 8 were expected"):
            await client.embed(["y"])
    finally:
        await client.shutdown()


async def test_a_vector_of_another_size_than_the_first_is_refused(tmp_path, fake):
    client = client_for(tmp_path, fake.base_url)
    fake.add(embeddings_reply([[0.1] * 16, [0.1] * 15]))
    try:
        with pytest.raises(EmbeddingError, match="15 dimensions where 16 were expected"):
            await client.embed(["a", "b"])
    finally:
        await client.shutdown()


async def test_transient_failures_are_retried(tmp_path, fake):
    fake.add(openai_error(503), openai_error(429, retry_after=0))
    client = client_for(tmp_path, fake.base_url)
    try:
        assert len(await client.embed(["x"])) == 1
    finally:
        await client.shutdown()
    assert len(fake.message_requests) == 3


async def test_a_dropped_connection_is_retried(tmp_path, fake):
    fake.add(FakeResponse(status=200, parts=[b'{"data": [', Drop()]))
    client = client_for(tmp_path, fake.base_url)
    try:
        assert len(await client.embed(["x"])) == 1
    finally:
        await client.shutdown()


async def test_errors_say_what_went_wrong(tmp_path, fake):
    client = client_for(tmp_path, fake.base_url, "max_retries = 1")
    try:
        fake.add(openai_error(500), openai_error(500, "still broken"))
        with pytest.raises(EmbeddingError, match="HTTP 500: still broken") as raised:
            await client.embed(["x"])
        assert raised.value.status == 500
        fake.add(openai_error(404, "model 'nope' not found"))
        with pytest.raises(EmbeddingError, match="check .embeddings. base_url and model"):
            await client.embed(["x"])
        fake.add(FakeResponse(status=200, parts=[b'{"vectors": []}'], stream=False))
        with pytest.raises(EmbeddingError, match="malformed response"):
            await client.embed(["x"])
        fake.add(embeddings_reply([[0.1] * 16]))
        with pytest.raises(EmbeddingError, match="1 vectors for 2 texts"):
            await client.embed(["x", "y"])
        fake.add(FakeResponse(status=200, parts=[b'{"data": [{"index": 0, "embedding": '
                                                 b'[NaN, 1.0]}]}'], stream=False))
        with pytest.raises(EmbeddingError, match="not finite"):
            await client.embed(["x"])
    finally:
        await client.shutdown()
    assert len(fake.message_requests) == 6  # 4xx and bad bodies are not retried


async def test_a_wrong_key_is_not_retried(tmp_path, fake):
    client = client_for(tmp_path, fake.base_url, api_key="wrong")
    try:
        with pytest.raises(EmbeddingError, match="HTTP 401 .check .embeddings. api_key"):
            await client.embed(["x"])
    finally:
        await client.shutdown()
    assert len(fake.requests) == 1


async def test_a_server_that_is_down_is_a_clear_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_for(tmp_path, f"http://127.0.0.1:{port}/v1", "max_retries = 1")
    try:
        with pytest.raises(EmbeddingError, match="cannot reach the embedding server.*running"):
            await client.embed(["x"])
    finally:
        await client.shutdown()


@pytest.mark.slow  # waits out real time
async def test_a_server_that_never_answers_times_out(tmp_path, fake):
    late = embeddings_reply([[0.5] * 16])
    late.delay = 5.0
    fake.add(late)
    client = client_for(tmp_path, fake.base_url, "max_retries = 0")
    try:
        with pytest.raises(EmbeddingError, match="did not answer in time"):
            await client.embed(["x"])
    finally:
        await client.shutdown()


async def test_huge_empty_and_undecodable_texts_are_sent_cleaned(tmp_path, fake):
    client = client_for(tmp_path, fake.base_url)
    undecodable = b"caf\xe9".decode("utf-8", "surrogateescape")
    try:
        await client.embed(["x" * (MAX_INPUT_CHARS * 3), "", undecodable])
    finally:
        await client.shutdown()
    [sent] = fake.inputs()
    assert sent == ["x" * MAX_INPUT_CHARS, " ", "caf\ufffd"]


async def test_without_a_base_url_it_is_not_configured(tmp_path):
    client = OpenAICompatibleEmbedding(make_config(tmp_path))
    assert (await client.health_check())["status"] == "down"
    with pytest.raises(EmbeddingError, match="set .embeddings. base_url"):
        await client.embed(["x"])
    await client.shutdown()
    await client.shutdown()
