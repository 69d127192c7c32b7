"""What well-known models behind OpenAI-compatible APIs cost: USD per million tokens.

Input, output, cache write and cache read, by model name prefix (a dated name such as
``gpt-4.1-mini-2025-04-14`` takes the price of its longest prefix). OpenAI and Gemini bill
no cache writes, so that rate is the input rate. Local models (Ollama, vLLM, llama.cpp, LM
Studio) and OpenRouter's vendor-prefixed names are not here: give them a price with
``[cost.prices."<model>"]`` (0 for a model that costs nothing per token).
"""

from blufio.agent.cost import Price

PRICES = {
    # OpenAI
    "gpt-5": Price(1.25, 10.0, 1.25, 0.125),
    "gpt-5-mini": Price(0.25, 2.0, 0.25, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.05, 0.005),
    "gpt-4.1": Price(2.0, 8.0, 2.0, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.40, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.10, 0.025),
    "gpt-4o": Price(2.50, 10.0, 2.50, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.15, 0.075),
    "o3": Price(2.0, 8.0, 2.0, 0.50),
    "o3-mini": Price(1.10, 4.40, 1.10, 0.55),
    "o4-mini": Price(1.10, 4.40, 1.10, 0.275),
    "o1": Price(15.0, 60.0, 15.0, 7.50),
    "o1-mini": Price(1.10, 4.40, 1.10, 0.55),
    # Google Gemini (its OpenAI-compatible endpoint; prompts up to 200k tokens)
    "gemini-2.5-pro": Price(1.25, 10.0, 1.25, 0.31),
    "gemini-2.5-flash": Price(0.30, 2.50, 0.30, 0.075),
    "gemini-2.5-flash-lite": Price(0.10, 0.40, 0.10, 0.025),
    "gemini-2.0-flash": Price(0.10, 0.40, 0.10, 0.025),
}
