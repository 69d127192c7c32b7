"""``build_zipapp.py`` and the archives it makes, run by a bare interpreter.

The archives are built once per session (wheels and bytecode are cached under ``build/``)
and run with real CPython binaries directly, ``-I`` so nothing from a virtualenv or the
environment leaks in.
"""

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile

import pytest

from blufio_build.interpreters import find_pythons
from tests.archives import HOST, IMPORTER, OTHER, PYTHON, ROOT, build, interpreter, run


def rows(stdout):
    return {line.split()[0]: line.split()[2] for line in stdout.splitlines()[1:]
            if line.strip() and not line.endswith("listed.")}


@pytest.mark.slow
def test_default_archive_lists_eight_plugins(archives):
    result = run(archives["default"], "plugin", "list")
    assert result.returncode == 0, result.stderr
    assert rows(result.stdout) == {
        "telegram": "not-configured", "anthropic": "not-configured", "sqlite": "enabled",
        "gateway": "enabled", "prometheus": "enabled", "keypair": "enabled", "mcp": "enabled",
        "embeddings": "not-configured"}
    assert result.stdout.splitlines()[-1] == "8 plugins listed."


@pytest.mark.slow
def test_version_shows_the_frozen_features(archives):
    result = run(archives["stripped"], "--version")
    assert result.returncode == 0, result.stderr
    assert "features: telegram, anthropic, sqlite" in result.stdout
    assert f"target: cp{HOST.replace('.', '')}-manylinux_2_17_" in result.stdout


@pytest.mark.slow
def test_remove_and_install_in_the_archive_keep_comments(archives, isolated_env):
    work = isolated_env / "work"
    (work / "blufio.toml").write_text("# mine\n[plugins]\n# comment\n")
    assert run(archives["default"], "plugin", "remove", "telegram", cwd=work).returncode == 0
    assert rows(run(archives["default"], "plugin", "list", cwd=work).stdout)["telegram"] \
        == "disabled"
    assert (work / "blufio.toml").read_text().startswith("# mine\n[plugins]\n# comment\n")
    assert run(archives["default"], "plugin", "install", "telegram", cwd=work).returncode == 0
    assert "telegram = true" in (work / "blufio.toml").read_text()
    result = run(archives["default"], "plugin", "install", "nosuch", cwd=work)
    assert result.returncode == 2 and "the plugins are" in result.stderr


@pytest.mark.slow
def test_stripped_archive_leaves_out_plugins_and_their_packages(archives):
    result = run(archives["stripped"], "plugin", "list")
    assert set(rows(result.stdout)) == {"telegram", "anthropic", "sqlite"}
    names = zipfile.ZipFile(archives["stripped"]).namelist()
    for absent in ("prometheus_client/", "quart/", "hypercorn/", "flask/",
                   "blufio/plugins/gateway/", "blufio/plugins/prometheus/",
                   ".native/markupsafe/"):
        assert not any(n.startswith(absent) for n in names), absent
    assert "httpx/__init__.py" in names and "httpx/__init__.pyc" in names
    assert os.path.getsize(archives["stripped"]) < os.path.getsize(archives["default"]) - 1e6
    search = run(archives["stripped"], "plugin", "search", "prometheus")
    assert "not in this build" in search.stdout
    assert ("python3 build_zipapp.py --no-default-features --features "
            "telegram,anthropic,sqlite,prometheus") in search.stdout
    install = run(archives["stripped"], "plugin", "install", "prometheus")
    assert install.returncode == 2 and "rebuild with it: python3 build_zipapp.py" \
        in install.stderr


@pytest.mark.slow
def test_default_archive_is_small_enough(archives):
    assert os.path.getsize(archives["default"]) <= 8 * 1024 * 1024


@pytest.mark.slow
def test_same_inputs_give_the_same_bytes(archives, tmp_path):
    # a snapshot of the tree, so edits made elsewhere during the run cannot interfere
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "__pycache__", "tests"))
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000",
               BLUFIO_BUILD_CACHE=os.path.join(ROOT, "build"))
    digests = []
    for name in ("a.pyz", "b.pyz"):
        result = subprocess.run([PYTHON, str(tree / "build_zipapp.py"), "-o",
                                 str(tmp_path / name)], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.slow
def test_imports_come_from_the_archive_not_the_venv(archives, isolated_env):
    # the dev venv's python has quart, nacl, ... installed; the archive must still win
    venv_python = os.path.join(ROOT, ".venv", "bin", "python")
    if not os.path.exists(venv_python):
        pytest.skip("no dev venv")
    helper = isolated_env / "importer.py"
    helper.write_text(IMPORTER)
    env = dict(os.environ, XDG_CACHE_HOME=str(isolated_env / "cache"))
    result = subprocess.run([venv_python, str(helper), archives["default"],
                             "quart,httpx,nacl.signing,markupsafe,tomlkit"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        module, path = line.split()
        assert path.startswith((archives["default"] + "/", str(isolated_env / "cache"))), line


@pytest.mark.slow
def test_light_commands_import_no_native_code_or_extraction(archives, isolated_env):
    result = run(archives["default"], "plugin", "list")
    assert result.returncode == 0
    assert not (isolated_env / "home" / ".cache" / "blufio").exists()


@pytest.mark.slow
def test_eight_first_runs_at_once(archives, isolated_env):
    helper = isolated_env / "importer.py"
    helper.write_text(IMPORTER)
    cache = isolated_env / "cache"
    env = {"PATH": os.environ["PATH"], "HOME": str(isolated_env / "home"),
           "XDG_CACHE_HOME": str(cache)}
    processes = [subprocess.Popen([PYTHON, "-I", str(helper), archives["default"],
                                   "nacl.signing,markupsafe"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    extracted = os.listdir(cache / "blufio" / "native")
    assert len(extracted) == 1, extracted  # no leftover staging directories
    assert all(str(cache) in out for out, _ in outputs)
    # and the signing code really works from the cache
    check = subprocess.run([PYTHON, "-I", "-c", IMPORTER + "\nimport nacl.signing\n"
                            "k = nacl.signing.SigningKey.generate()\n"
                            "k.verify_key.verify(k.sign(b'x'))\n", archives["default"],
                            "nacl"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def _as_nobody():
    os.setgid(65534)
    os.setgroups([])
    os.setuid(65534)


def _runnable_by_anyone(path):
    """Whether every directory above ``path`` and the file itself are executable by all."""
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


# An interpreter an unprivileged user can run (pyenv's may live under /root, 0700).
SYSTEM_PYTHON = next((p for p in find_pythons(HOST) if _runnable_by_anyone(p)), None)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to switch to an unprivileged user")
@pytest.mark.skipif(SYSTEM_PYTHON is None, reason=f"no python{HOST} that user nobody can run")
def test_runs_as_an_unprivileged_user_with_an_unwritable_home(archives):
    place = tempfile.mkdtemp(prefix="blufio-nobody-", dir="/tmp")
    try:
        os.chmod(place, 0o755)
        home = os.path.join(place, "home")  # root's, 0755: nobody cannot write it
        os.mkdir(home, 0o755)
        scratch = os.path.join(place, "scratch")
        os.mkdir(scratch)
        os.chmod(scratch, 0o1777)  # mkdir's mode is masked by the umask
        empty = os.path.join(place, "empty")
        os.mkdir(empty, 0o755)
        archive = os.path.join(empty, "blufio.pyz")
        shutil.copy(archives["default"], archive)
        os.chmod(archive, 0o644)
        helper = os.path.join(place, "importer.py")
        with open(helper, "w") as f:
            f.write(IMPORTER)
        os.chmod(helper, 0o644)
        env = {"PATH": os.environ["PATH"], "HOME": home, "TMPDIR": scratch,
               "BLUFIO_DATA_DIR": os.path.join(scratch, "data")}
        listed = subprocess.run([SYSTEM_PYTHON, "-I", archive, "plugin", "list"], env=env, cwd=empty,
                                capture_output=True, text=True, preexec_fn=_as_nobody)
        assert listed.returncode == 0, listed.stderr
        assert "8 plugins listed." in listed.stdout
        native = subprocess.run([SYSTEM_PYTHON, "-I", helper, archive, "nacl.signing"], env=env,
                                cwd=empty, capture_output=True, text=True,
                                preexec_fn=_as_nobody)
        assert native.returncode == 0, native.stderr
        assert native.stderr.count("\n") == 1 and "warning: cannot use" in native.stderr
        assert os.path.join(scratch, "blufio-65534") in native.stdout
    finally:
        shutil.rmtree(place, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(OTHER is None, reason="needs a second CPython minor (3.11/3.12/3.13) "
                    "from pyenv or on PATH")
def test_another_interpreter_is_refused_in_one_line(archives):
    result = run(archives["other"], "plugin", "list")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"built for CPython {OTHER}" in result.stderr
    assert f"python3 build_zipapp.py --python-version {HOST}" in result.stderr
    ok = run(archives["other"], "plugin", "list", python=interpreter(OTHER))
    assert ok.returncode == 0, ok.stderr


@pytest.mark.slow
def test_old_interpreter_is_refused_in_one_line(archives):
    old = interpreter("3.9") or interpreter("3.8")
    if old is None:
        pytest.skip("needs a CPython 3.9 or 3.8 (from pyenv or on PATH)")
    result = run(archives["default"], "plugin", "list", python=old)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "needs CPython 3.10 or newer" in result.stderr


@pytest.mark.slow  # runs the build
def test_unknown_feature_and_incomplete_selection_exit_2():
    result = build("--features", "nope", "-o", os.devnull)
    assert result.returncode == 2 and "valid features: telegram" in result.stderr
    result = build("--no-default-features", "--features", "gateway", "-o", os.devnull)
    assert result.returncode == 2 and "--allow-incomplete" in result.stderr
    listed = build("--list-features")
    assert "gateway" in listed.stdout and "alias: api" in listed.stdout


def test_cache_root_safety_checks(tmp_path):
    sys.path.insert(0, ROOT)
    from blufio._archive.native import usable_root

    good = tmp_path / "good"
    assert usable_root(str(good)) is None
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert "writable by group or others" in usable_root(str(shared))
    link = tmp_path / "link"
    link.symlink_to(good)
    assert usable_root(str(link)) == "is a symbolic link"


def test_no_usable_cache_is_one_clear_error(tmp_path, monkeypatch):
    from blufio._archive import native
    from blufio.errors import BlufioError

    monkeypatch.setattr(native, "candidate_roots", lambda environ=None: [
        (str(tmp_path / "file" / "x"), False)])
    (tmp_path / "file").write_text("")
    with pytest.raises(BlufioError, match="no usable cache directory; tried .*file/x"):
        native.ensure_extracted(archive="unused", key="k")
