"""The native-code cache: leftovers cleaned, every directory on the way checked, reasons
said, bounded. Extractions here are real, from a small zip laid out as an archive's."""

import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from blufio._archive import native
from blufio.errors import BlufioError
from tests.conftest import REPO_ROOT

KEY = "k" * 16
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "fake.pyz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(native.NATIVE_PREFIX + "fakenative/__init__.py", "VALUE = 42\n")
    return str(path)


def roots(*pairs):
    return lambda environ=None: list(pairs)


def test_leftovers_of_killed_extractions_are_removed_and_live_ones_kept(tmp_path, archive):
    parent = tmp_path / "cache" / "native"
    parent.mkdir(parents=True, mode=0o700)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = parent / f".{KEY}.{dead.pid}.abc"  # its extractor is gone
    killed.mkdir()
    (killed / "half.so").write_bytes(b"\0" * 10)
    old = parent / f".{KEY}.stale.xyz"  # from an older layout, long abandoned
    old.mkdir()
    os.utime(old, (time.time() - 2 * native.STALE_AFTER_SECONDS,) * 2)
    running = parent / f".{KEY}.{os.getppid()}.def"  # another process extracting right now
    running.mkdir()
    native.publish(archive, str(parent), KEY)
    assert not killed.exists() and not old.exists()
    assert running.exists()
    assert (parent / KEY / "fakenative" / "__init__.py").read_text() == "VALUE = 42\n"


@as_root
def test_a_symlink_planted_below_the_root_to_another_users_directory_is_refused(
        tmp_path, archive, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    (root / "native").symlink_to(theirs)
    monkeypatch.setattr(native, "candidate_roots", roots((str(root), False)))
    with pytest.raises(BlufioError, match="native is a symbolic link"):
        native.ensure_extracted(archive=archive, key=KEY, environ={})
    assert os.listdir(theirs) == []  # nothing of ours was written where they could change it


@as_root
def test_a_directory_above_the_root_that_another_user_controls_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    assert native.usable_root(str(theirs / "cache")) == (
        f"{theirs} above it belongs to uid 65534")
    link = tmp_path / "link"  # and a symlink on the way that is theirs
    os.symlink(tmp_path, link)
    os.lchown(link, 65534, 65534)
    assert native.usable_root(str(link / "cache")) == (
        f"{link} is a symbolic link owned by uid 65534")


def test_a_dangling_symlink_at_the_fallback_is_replaced_by_the_directory(
        tmp_path, archive, monkeypatch):
    fallback = tmp_path / "blufio-uid"
    fallback.symlink_to(tmp_path / "gone")
    monkeypatch.setattr(native, "candidate_roots", roots((str(fallback), True)))
    directory = native.ensure_extracted(archive=archive, key=KEY, environ={})
    assert directory == str(fallback / "native" / KEY)
    assert fallback.is_dir() and not fallback.is_symlink()


def test_a_dangling_symlink_elsewhere_is_named_not_file_exists(tmp_path):
    configured = tmp_path / "cache"
    configured.symlink_to(tmp_path / "gone")
    problem = native.usable_root(str(configured))
    assert "is a symbolic link to" in problem and "does not exist" in problem


def test_a_configured_cache_that_cannot_be_used_is_named_with_its_reason(
        tmp_path, archive, monkeypatch, capsys):
    configured = tmp_path / "shared"
    configured.mkdir()
    os.chmod(configured, 0o777)
    good = tmp_path / "good"
    monkeypatch.setattr(native, "candidate_roots",
                        roots((str(configured), False), (str(good), False)))
    native.ensure_extracted(archive=archive, key=KEY, environ={"BLUFIO_CACHE_DIR": str(configured)})
    err = capsys.readouterr().err
    assert err == (f"blufio: warning: BLUFIO_CACHE_DIR={configured} is not used: writable by "
                   f"group or others; native code is cached in {good} instead\n")


def test_a_configured_cache_on_a_noexec_mount_says_so(tmp_path, archive):
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) to mount a noexec file system privately")
    mount = tmp_path / "noexec"
    mount.mkdir()
    code = (f"import sys; sys.path.insert(0, {REPO_ROOT!r}); from blufio._archive import native;"
            f"native.ensure_extracted(archive={archive!r}, key={KEY!r})")
    script = f'mount -t tmpfs -o noexec,size=4m,mode=0700 tmpfs {mount} || exit 77; exec "$@"'
    env = dict(os.environ, BLUFIO_CACHE_DIR=str(mount), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    result = subprocess.run([unshare, "-rm", "sh", "-c", script, "sh", sys.executable, "-c", code],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    if result.returncode == 77 or "unshare failed" in result.stderr:
        pytest.skip(f"cannot mount privately here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert f"BLUFIO_CACHE_DIR={mount} is not used: on a noexec mount" in result.stderr


def test_the_cache_keeps_a_bounded_number_of_other_builds(tmp_path, archive):
    parent = tmp_path / "native"
    parent.mkdir(mode=0o700)
    now = time.time()
    for days, name in ((2, "a"), (3, "b"), (5, "c"), (8, "d"), (40, "e")):
        (parent / name).mkdir()
        marker = parent / name / native.MARKER
        marker.write_text(name)
        os.utime(marker, (now - days * 86400,) * 2)
    native.publish(archive, str(parent), KEY)
    assert sorted(os.listdir(parent)) == sorted([KEY, "a", "b"])
