"""``tools/call`` results as ``tool_result`` content: every MCP content type, and the bounds."""

import base64

from blufio.plugins.mcp.results import MAX_IMAGES, render

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 20).decode()


def test_text_and_images_become_text_and_image_blocks():
    blocks, is_error = render({"content": [
        {"type": "text", "text": "here it is"},
        {"type": "image", "data": PNG, "mimeType": "image/png"}]})
    assert not is_error
    assert blocks == [{"type": "text", "text": "here it is"},
                      {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                   "data": PNG}}]


def test_resources_links_and_audio_become_readable_notes():
    blocks, _ = render({"content": [
        {"type": "resource", "resource": {"uri": "memo://a", "text": "buy milk"}},
        {"type": "resource", "resource": {"uri": "file:///x.bin", "blob": "AAAA",
                                          "mimeType": "application/zip"}},
        {"type": "resource_link", "uri": "file:///y", "name": "y.txt"},
        {"type": "audio", "data": "AAAA", "mimeType": "audio/wav"},
        {"type": "hologram"}]})
    assert [b["text"] for b in blocks] == [
        "[resource memo://a]\nbuy milk",
        "[resource file:///x.bin (application/zip, about 3 bytes) cannot be shown]",
        "[resource link: y.txt <file:///y>]",
        "[audio (audio/wav) was returned; it cannot be shown]",
        "[content of type 'hologram' cannot be shown]"]


def test_images_the_api_cannot_take_are_notes():
    blocks, _ = render({"content": [
        {"type": "image", "data": PNG, "mimeType": "image/tiff"},
        {"type": "image", "data": "not base64!", "mimeType": "image/png"},
        *[{"type": "image", "data": PNG, "mimeType": "image/png"}] * (MAX_IMAGES + 1)]})
    assert "only image/jpeg" in blocks[0]["text"]
    assert "not base64" in blocks[1]["text"]
    assert [b["type"] for b in blocks[2:]] == ["image"] * MAX_IMAGES + ["text"]


def test_structured_content_is_shown_only_when_there_is_no_text():
    assert render({"content": [], "structuredContent": {"temp": 21}})[0] == \
        [{"type": "text", "text": '{"temp": 21}'}]
    assert render({"content": [{"type": "text", "text": "21"}],
                   "structuredContent": {"temp": 21}})[0] == [{"type": "text", "text": "21"}]


def test_an_error_result_stays_an_error_and_empty_content_says_so():
    assert render({"content": [{"type": "text", "text": "nope"}], "isError": True}) == \
        ([{"type": "text", "text": "nope"}], True)
    assert render({"content": []}) == ([{"type": "text", "text": "(the tool returned no content)"}],
                                       False)


def test_long_text_is_cut_with_a_note_saying_how_much_there_was():
    blocks, _ = render({"content": [{"type": "text", "text": "a" * 60},
                                    {"type": "text", "text": "b" * 60}]}, max_chars=100)
    note = "[truncated: the result had 120 characters of text, 100 are shown]"
    assert [b["text"] for b in blocks] == ["a" * 60, "b" * 40, note]
