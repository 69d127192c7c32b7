"""The ``openai`` provider plugin: any OpenAI-compatible Chat Completions server.

``provider.py`` holds the adapter (HTTP, retries, errors); ``translate.py`` the pure
translation between Anthropic's shapes (the provider contract's) and Chat Completions.
"""
