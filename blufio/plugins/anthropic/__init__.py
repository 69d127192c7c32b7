"""The ``anthropic`` plugin: a provider over Anthropic's Messages API."""
