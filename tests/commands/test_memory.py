"""``blufio memory``: list, search, add, forget and export, as a user runs them."""

import json


def test_a_memory_is_added_listed_found_exported_and_forgotten(blufio):
    added = blufio("memory", "add", "My locker code is 4471", "--tags", "gym, personal")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "saved mem_1"

    listed = blufio("memory", "list")
    assert listed.stdout.splitlines()[0].split() == ["ID", "SAVED", "TAGS", "TEXT"]
    assert "mem_1" in listed.stdout and "gym,personal" in listed.stdout
    assert "My locker code is 4471" in listed.stdout

    found = blufio("memory", "search", "locker")
    assert found.returncode == 0
    assert found.stdout.startswith("mem_1 [") and "saved memory] My locker code is 4471" in \
        found.stdout
    [hit] = json.loads(blufio("memory", "search", "LOCKER CODE?", "--json").stdout)
    assert hit["id"] == "mem_1" and hit["kind"] == "memory"

    exported = json.loads(blufio("memory", "export").stdout)
    assert [(m["id"], m["text"], m["tags"]) for m in exported] == [
        ("mem_1", "My locker code is 4471", ["gym", "personal"])]

    forgot = blufio("memory", "forget", "mem_1")
    assert forgot.returncode == 0 and forgot.stdout.strip() == "forgot mem_1"
    assert "nothing found" in blufio("memory", "search", "locker").stdout
    assert "no memories saved yet" in blufio("memory", "list").stdout


def test_fts5_syntax_in_a_search_is_searched_as_text(blufio):
    blufio("memory", "add", "near the (old) gate")
    for query in ['NEAR("gate', "gate*", "(((old", '"', "AND OR NOT"]:
        result = blufio("memory", "search", query)
        assert result.returncode == 0, (query, result.stderr)
        assert "Traceback" not in result.stderr


def test_bad_input_is_a_clear_error_with_exit_2(blufio):
    for args, message in [
        (("memory", "add", "   "), "a memory needs some text"),
        (("memory", "add", "x" * 5000), "at most 4000 characters"),
        (("memory", "search", ""), "needs a query"),
        (("memory", "forget", "mem_99"), "nothing to forget by the id 'mem_99'"),
        (("memory", "forget", "locker"), "is not a memory id"),
        (("memory", "list", "--limit", "lots"), "--limit must be a number"),
        (("memory", "search"), "unrecognised command line"),
    ]:
        result = blufio(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr


def test_text_that_is_not_utf8_is_saved_with_replacement_characters(blufio):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    result = subprocess.run([sys.executable, "-m", "blufio", "memory", "add", b"caf\xe9 noir"],
                            env=env, capture_output=True)
    assert result.returncode == 0, result.stderr
    exported = json.loads(blufio("memory", "export").stdout)
    assert exported[0]["text"] == "caf\ufffd noir"
