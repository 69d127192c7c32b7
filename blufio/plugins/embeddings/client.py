"""``OpenAICompatibleEmbedding``: the ``embedding`` contract over ``POST /v1/embeddings``.

The request and response are OpenAI's (``{"model", "input": [...], "encoding_format":
"float", "dimensions"?}`` → ``{"data": [{"index", "embedding"}, ...]}``), which Ollama,
llama.cpp's server, LM Studio and vLLM also speak. ``base_url`` is the API root with or
without ``/v1`` (``http://127.0.0.1:11434`` and ``http://127.0.0.1:11434/v1`` both work).

- Texts go in batches of ``batch_size``; each text is cut to ``MAX_INPUT_CHARS`` and made
  valid UTF-8, and an empty one is sent as a space (some servers refuse empty input).
- 408, 409, 429, 5xx and connection failures are retried up to ``max_retries`` times with
  backoff (``blufio.retry``), honouring ``retry-after`` (capped at MAX_RETRY_AFTER).
- Every failure is an ``EmbeddingError``: the status and the server's message, a malformed
  body, a wrong number of vectors, or vectors of the wrong size (``dimensions`` when set,
  else the size of the first vector this client received).
"""

import asyncio
import json
import logging
import math

from blufio.errors import EmbeddingError
from blufio.manifest import identity
from blufio.model import clean_text
from blufio.retry import backoff_delay, retry_after

log = logging.getLogger("blufio.embeddings")

MAX_INPUT_CHARS = 8000  # about 2,000 tokens: within every common embedding model's window
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0


class OpenAICompatibleEmbedding:
    """The ``embeddings`` plugin (implements ``blufio.contracts.Embedding``)."""

    name, version, adapter_type = identity("embeddings")

    def __init__(self, config, **_services):
        section = config.section("embeddings")
        self.base_url = (section.get("base_url") or "").rstrip("/")
        self._api_key = section.get("api_key") or ""
        self.model = section.get("model") or "nomic-embed-text"
        self.dimensions = int(section.get("dimensions") or 0)
        self._requested_dimensions = self.dimensions
        # the label stored with each vector: vectors of another label are never compared
        self.vector_model = f"{self.model}@{self.dimensions}" if self.dimensions else self.model
        self.batch_size = max(1, int(section.get("batch_size") or 64))
        self.timeout = float(section.get("timeout") or 30.0)
        retries = section.get("max_retries")
        self.max_retries = max(0, int(2 if retries is None else retries))
        self.backoff_base = BACKOFF_BASE
        self._client = None

    @property
    def url(self):
        root = self.base_url if self.base_url.endswith("/v1") else f"{self.base_url}/v1"
        return f"{root}/embeddings"

    async def health_check(self):
        if not self.base_url:
            return {"status": "down", "detail": "no base_url"}
        return {"status": "ok", "detail": f"{self.model} at {self.base_url}"}

    async def shutdown(self):
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def embed(self, texts):
        """One vector per text, in order (see the module docstring)."""
        if not self.base_url:
            raise EmbeddingError("no embedding server is configured; set [embeddings] "
                                 "base_url (e.g. http://127.0.0.1:11434/v1 for Ollama)")
        inputs = [_prepared(t) for t in texts]
        vectors = []
        for start in range(0, len(inputs), self.batch_size):
            vectors += await self._embed_batch(inputs[start:start + self.batch_size])
        return vectors

    async def _embed_batch(self, batch):
        body = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self._requested_dimensions:
            body["dimensions"] = self._requested_dimensions
        response = await self._post(json.dumps(body).encode())
        return self._vectors(response, len(batch))

    async def _post(self, body):
        import httpx

        client = self._http()
        headers = {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = await client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                if last:
                    raise _transport_error(exc, self.url) from exc
                delay = backoff_delay(attempt, self.backoff_base, BACKOFF_MAX)
                log.warning("embedding server unreachable (%s); retrying in %.2fs",
                            type(exc).__name__, delay)
            else:
                if response.status_code == 200:
                    return response
                if last or response.status_code not in RETRY_STATUSES:
                    raise _status_error(response)
                hinted = retry_after(response.headers)
                delay = min(hinted, MAX_RETRY_AFTER) if hinted is not None else \
                    backoff_delay(attempt, self.backoff_base, BACKOFF_MAX)
                log.warning("embedding server answered %s; retrying in %.2fs",
                            response.status_code, delay)
            await asyncio.sleep(delay)

    def _http(self):
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), headers={
                "content-type": "application/json", "user-agent": "blufio/0.1"})
        return self._client

    def _vectors(self, response, expected):
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EmbeddingError(f"the embedding server at {self.url} sent a malformed "
                                 "response (expected OpenAI's {\"data\": [{\"embedding\": "
                                 "[...]}]})") from None
        if len(vectors) != expected:
            raise EmbeddingError(f"the embedding server sent {len(vectors)} vectors for "
                                 f"{expected} texts")
        for vector in vectors:
            if not self.dimensions:
                self.dimensions = len(vector)
            if len(vector) != self.dimensions:
                raise EmbeddingError(
                    f"the embedding server sent a vector of {len(vector)} dimensions where "
                    f"{self.dimensions} were expected (model {self.model}); check [embeddings] "
                    "model and dimensions")
            if not all(math.isfinite(x) for x in vector):
                raise EmbeddingError("the embedding server sent a vector that is not finite")
        return vectors


def _prepared(text):
    return clean_text((text or " ")[:MAX_INPUT_CHARS])


def _status_error(response):
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    message = message or response.text.strip()[:200]
    text = f"the embedding server answered HTTP {response.status_code}"
    if response.status_code in (401, 403):
        text += " (check [embeddings] api_key)"
    elif response.status_code == 404:
        text += " (check [embeddings] base_url and model)"
    return EmbeddingError(f"{text}: {message}" if message else text,
                          status=response.status_code)


def _transport_error(exc, url):
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return EmbeddingError(f"the embedding server at {url} did not answer in time")
    return EmbeddingError(f"cannot reach the embedding server at {url} "
                          f"({exc or type(exc).__name__}); is it running?")
