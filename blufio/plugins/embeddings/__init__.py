"""The ``embeddings`` plugin: vectors from any OpenAI-compatible ``/v1/embeddings`` server."""
