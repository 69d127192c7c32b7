"""``build_zipapp.py``'s command line: errors in one line, the right exit codes."""

from blufio_build.cli import main


def test_list_features_prints_the_catalog_plugins_and_extras(capsys):
    assert main(["--list-features"]) == 0
    out = capsys.readouterr().out
    assert "* gateway " in out and "\n  uvloop       extra " in out
    assert "\n* in the default bundle\n" in out


def test_usage_problems_exit_2_in_one_line(capsys):
    for argv, message in ((["--features", "nope"], "unknown feature 'nope'"),
                          (["--python-version", "3.9"], "Blufio needs CPython 3.10 or newer"),
                          (["--platform", "sparc"], "unsupported --platform 'sparc'")):
        assert main([*argv, "-o", "unused.pyz"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"build_zipapp.py: error: {message}") and err.count("\n") == 1


def test_a_build_that_cannot_proceed_exits_1_and_says_why(capsys, tmp_path):
    assert main(["--python-version", "3.99", "-o", str(tmp_path / "x.pyz")]) == 1
    err = capsys.readouterr().err
    assert "needs a python3.99 to compile bytecode" in err and "Traceback" not in err
    assert not (tmp_path / "x.pyz").exists()
