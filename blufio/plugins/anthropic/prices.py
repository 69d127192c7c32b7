"""What Anthropic's models cost: USD per million tokens by model name prefix.

Input, output, cache write (5-minute ephemeral) and cache read, from Anthropic's price list.
A dated name (``claude-sonnet-4-5-20250929``) takes the price of its longest prefix.
"""

from blufio.agent.cost import Price

PRICES = {
    "claude-opus-4-5": Price(5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-1": Price(15.0, 75.0, 18.75, 1.50),
    "claude-opus-4": Price(15.0, 75.0, 18.75, 1.50),
    "claude-sonnet-4-5": Price(3.0, 15.0, 3.75, 0.30),
    "claude-sonnet-4": Price(3.0, 15.0, 3.75, 0.30),
    "claude-3-7-sonnet": Price(3.0, 15.0, 3.75, 0.30),
    "claude-3-5-sonnet": Price(3.0, 15.0, 3.75, 0.30),
    "claude-haiku-4-5": Price(1.0, 5.0, 1.25, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.0, 1.0, 0.08),
    "claude-3-opus": Price(15.0, 75.0, 18.75, 1.50),
    "claude-3-haiku": Price(0.25, 1.25, 0.30, 0.03),
}
