"""The ``telegram`` plugin: a channel over the Telegram Bot API with long polling."""
