"""Bounded line splitting: whole lines out, long lines skipped without being held."""

from blufio.plugins.mcp.lines import Lines


def split(chunks, limit=10):
    lines, oversized = [], []
    splitter = Lines(limit, lines.append, oversized.append)
    for chunk in chunks:
        splitter.feed(chunk)
    splitter.end()
    return lines, oversized


def test_lines_split_across_chunks_come_out_whole():
    assert split([b"ab", b"c\nde", b"f\r\n", b"\ng"]) == ([b"abc", b"def", b"", b"g"], [])


def test_a_line_over_the_limit_is_reported_once_by_its_start_and_skipped():
    lines, oversized = split([b"short\n", b"x" * 8, b"y" * 8, b"z" * 100, b"\nafter\n"])
    assert lines == [b"short", b"after"]
    assert oversized == [b"x" * 8 + b"y" * 8]


def test_a_line_of_exactly_the_limit_passes():
    assert split([b"0123456789\n"]) == ([b"0123456789"], [])
