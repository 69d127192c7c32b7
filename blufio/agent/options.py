"""What a client may ask of one turn, within the limits the owner set: ``TurnOptions``.

A channel that speaks Anthropic's Messages API (the gateway) lets its clients add to a turn:
system text after the owner's system prompt, their own tools (*client tools*: the model may
call them, and the turn then ends so the client can run them), a model from the allowed list,
a lower ``max_tokens``, sampling settings, an assistant prefill and beta flags. Channels that
offer none of this pass no options, and the turn is the owner's as configured.

The owner's system prompt always comes first; a client can add to it, never remove it.
``tool_choice`` applies to the turn's first provider call only (a forced tool would otherwise
be called again in every round of server tools). A thinking budget that the owner's
``max_tokens`` cap leaves no room for is lowered to fit (Anthropic requires it to be below
``max_tokens``), or thinking is left off when less than the minimum budget would remain.
"""

from dataclasses import dataclass, field
from typing import Optional

# Request settings passed to the provider as they are (Anthropic's names and meanings).
SAMPLING_FIELDS = ("stop_sequences", "temperature", "top_p", "top_k", "thinking", "metadata")
MIN_THINKING_BUDGET = 1024  # Anthropic's smallest budget_tokens


@dataclass(slots=True)
class TurnOptions:
    """A client's additions to one turn; every field is optional."""

    model: str = ""                   # "" = the agent's model
    system: list = field(default_factory=list)  # text blocks after the owner's prompt
    tools: list = field(default_factory=list)   # client tool definitions
    tool_choice: Optional[dict] = None
    max_tokens: Optional[int] = None  # capped by the agent's own max_tokens
    sampling: dict = field(default_factory=dict)  # SAMPLING_FIELDS the client set
    prefill: list = field(default_factory=list)   # content the reply continues
    betas: list = field(default_factory=list)     # the provider forwards those it knows

    @property
    def client_tool_names(self):
        return {tool.get("name") for tool in self.tools}

    def provider_options(self, first_call, max_tokens=None):
        """The ``options`` of a ``Provider.stream`` call of this turn, whose ``max_tokens``
        (after the owner's cap) a thinking budget must stay under."""
        options = dict(self.sampling)
        thinking = options.get("thinking") or {}
        if max_tokens and thinking.get("type") == "enabled" \
                and thinking.get("budget_tokens", 0) >= max_tokens:
            # the cap made room for less thinking than asked: think less, or not at all
            if max_tokens - 1 >= MIN_THINKING_BUDGET:
                options["thinking"] = {**thinking, "budget_tokens": max_tokens - 1}
            else:
                del options["thinking"]
        if self.betas:
            options["betas"] = list(self.betas)
        if first_call and self.tool_choice is not None:
            options["tool_choice"] = self.tool_choice
        return options


NO_OPTIONS = TurnOptions()
