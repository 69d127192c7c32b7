"""Writing the archive reproducibly."""

import os
import stat
import zipfile

import pytest

from blufio_build.writer import FIXED_DATE, SHEBANG, built_at, write_archive, zip_date

ENTRIES = {"b/two.py": (b"two", 0o644), "a/one.py": (b"one", 0o600),
           ".native/x/run.so": (b"\x7fELF", 0o755)}


def test_the_same_entries_in_any_order_give_the_same_bytes(tmp_path):
    first, second = tmp_path / "1.pyz", tmp_path / "2.pyz"
    write_archive(ENTRIES, str(first), zip_date("1700000000"))
    write_archive(dict(reversed(list(ENTRIES.items()))), str(second), zip_date("1700000000"))
    assert first.read_bytes() == second.read_bytes()


def test_the_archive_is_an_executable_zipapp_with_directories_and_two_modes(tmp_path):
    out = tmp_path / "dist" / "x.pyz"
    size = write_archive(ENTRIES, str(out), FIXED_DATE)
    assert size == out.stat().st_size and out.read_bytes().startswith(SHEBANG)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    with zipfile.ZipFile(out) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert list(infos) == sorted(infos) == [".native/", ".native/x/", ".native/x/run.so",
                                            "a/", "a/one.py", "b/", "b/two.py"]
    modes = {name: (i.external_attr >> 16) & 0o777 for name, i in infos.items()}
    assert modes["a/one.py"] == 0o644 and modes[".native/x/run.so"] == 0o755
    assert {i.date_time for i in infos.values()} == {FIXED_DATE}


def test_source_date_epoch_sets_every_timestamp_and_never_before_1980():
    assert zip_date("1700000000") == (2023, 11, 14, 22, 13, 20)
    assert zip_date("0") == FIXED_DATE and zip_date(None) == FIXED_DATE
    assert built_at("1700000000") == "2023-11-14T22:13:20Z"
    assert built_at(None, now=0) == "1970-01-01T00:00:00Z"


def test_a_failed_write_leaves_neither_a_partial_archive_nor_a_temporary_file(tmp_path):
    out = tmp_path / "dist" / "x.pyz"
    with pytest.raises(TypeError):
        write_archive({"a.py": (b"x", None)}, str(out), FIXED_DATE)
    assert os.listdir(out.parent) == []
