"""A fake OpenAI-compatible embeddings API: ``POST /v1/embeddings`` on ``127.0.0.1:<ephemeral>``.

It is ``FakeAnthropic``'s server with another route (same script, recording, failure modes
and ``api_key`` check), answering with deterministic vectors::

    from tests.fakes.embeddings_server import FakeEmbeddings, openai_error

    with FakeEmbeddings(dimensions=64) as fake:
        ...  # [embeddings] base_url = fake.base_url
        fake.add(openai_error(503))          # the next request fails, then vectors again
        assert fake.inputs() == [["a text"], ...]

A text's vector is a bag of its *concepts*: each word is mapped through ``concepts`` (a
small synonym table, so "locker" and "cabinet" are one concept) and each concept adds a
fixed pseudo-random direction. So texts that share meaning but no word are close, texts that
share nothing are nearly orthogonal, and every run gives the same vectors.
"""

import hashlib
import json
import random
import re

from tests.fakes.anthropic_server import FakeAnthropic, FakeResponse

SYNONYMS = [
    ("locker", "cabinet", "safe", "storage"),
    ("code", "combination", "pin", "password", "passcode"),
    ("gym", "fitness", "workout"),
    ("car", "automobile", "vehicle"),
    ("doctor", "physician", "gp"),
    ("appointment", "visit", "checkup"),
    ("dog", "puppy", "hound"),
    ("birthday", "anniversary"),
]
CONCEPTS = {word: group[0] for group in SYNONYMS for word in group}
IGNORED = frozenset("a an the is are was my your of for to in on at what which who me i "
                    "that this it and or do does did with".split())


def concept_vector(text, dimensions, concepts=CONCEPTS):
    """The deterministic vector of ``text`` (see the module docstring)."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()):
        if word in IGNORED:
            continue
        seed = hashlib.sha256(concepts.get(word, word).encode()).digest()
        rng = random.Random(seed)
        for i in range(dimensions):
            vector[i] += rng.gauss(0.0, 1.0)
    return vector


def embeddings_reply(vectors, *, model="fake-embed", status=200):
    """A ``/v1/embeddings`` response carrying ``vectors``, in OpenAI's shape."""
    body = {"object": "list", "model": model, "usage": {"prompt_tokens": 0, "total_tokens": 0},
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in enumerate(vectors)]}
    return FakeResponse(status=status, headers={"content-type": "application/json"},
                        parts=[json.dumps(body).encode()], stream=False)


def openai_error(status, message=None, *, retry_after=None):
    """An error in OpenAI's envelope (``{"error": {"message", "type", "code"}}``)."""
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    body = {"error": {"message": message or f"fake error {status}", "type": "server_error",
                      "code": None}}
    return FakeResponse(status=status, headers=headers, parts=[json.dumps(body).encode()],
                        stream=False)


class FakeEmbeddings(FakeAnthropic):
    """The fake server; ``dimensions`` is the size of the vectors it makes."""

    route = "/v1/embeddings"

    def __init__(self, script=(), *, dimensions=32, api_key=None, concepts=CONCEPTS):
        super().__init__(script, default=self.embed, api_key=api_key)
        self.dimensions = dimensions
        self.concepts = concepts

    def embed(self, request):
        """The default responder: one concept vector per input text."""
        texts = (request.json or {}).get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return openai_error(400, "'input' must be a string or a list of strings")
        size = (request.json or {}).get("dimensions") or self.dimensions
        return embeddings_reply([concept_vector(t, size, self.concepts) for t in texts])

    def inputs(self):
        """The ``input`` list of every embeddings request received, in order."""
        return [r.json.get("input") for r in self.message_requests]

    @property
    def base_url(self):
        """The API root with ``/v1``, as OpenAI-compatible clients are configured."""
        return f"http://127.0.0.1:{self.port}/v1"
