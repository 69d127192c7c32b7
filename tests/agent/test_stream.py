"""Assembling a message from a provider's events: thinking blocks keep their text and
signature (the next call of a turn with thinking must send them back unchanged)."""

from blufio.agent.stream import MessageBuilder


def test_a_thinking_block_is_assembled_with_its_signature():
    builder = MessageBuilder()
    for event in (
            {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 3}}},
            {"type": "content_block_start", "index": 0,
             "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "thinking_delta", "thinking": "Let me "}},
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "thinking_delta", "thinking": "think."}},
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "signature_delta", "signature": "sig=="}},
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1,
             "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 1,
             "delta": {"type": "text_delta", "text": "Done."}},
            {"type": "content_block_stop", "index": 1},
            {"type": "message_delta", "delta": {"stop_reason": "stop_sequence",
                                                "stop_sequence": "END"},
             "usage": {"output_tokens": 4}},
            {"type": "message_stop"}):
        builder.feed(event)
    assert builder.finish() == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig=="},
        {"type": "text", "text": "Done."}]
    assert (builder.stop_reason, builder.stop_sequence) == ("stop_sequence", "END")
