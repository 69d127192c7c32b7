"""The command line: how it reports a failure (one line, the exit code its error class gives,
a traceback only with --debug) and which commands a build lists."""

import pytest

from blufio import build_record, cli
from blufio.errors import BlufioError, ConfigError, UsageError


class Odd(BlufioError):
    exit_code = 7


@pytest.fixture
def failing(monkeypatch):
    """Make ``blufio plugin list`` raise the given exception."""
    def make(exc):
        def run(args):
            raise exc

        import blufio.commands.plugin as plugin

        monkeypatch.setattr(plugin, "run", run)
    return make


@pytest.mark.parametrize("error, code", [(ConfigError("the key is wrong"), 2),
                                         (UsageError("the key is wrong"), 2),
                                         (BlufioError("the key is wrong"), 1),
                                         (Odd("the key is wrong"), 7)])
def test_an_error_is_one_line_and_its_class_gives_the_exit_code(failing, capsys, error, code):
    failing(error)
    assert cli.main(["plugin", "list"]) == code
    assert capsys.readouterr().err == "blufio: error: the key is wrong\n"


def test_anything_else_is_unexpected_and_asks_for_debug(failing, capsys):
    failing(KeyError("x"))
    assert cli.main(["plugin", "list"]) == 1
    assert capsys.readouterr().err == ("blufio: unexpected error: KeyError: 'x' "
                                       "(run again with --debug for the traceback)\n")


def test_debug_shows_the_traceback_and_then_the_line(failing, capsys):
    failing(ConfigError("the key is wrong"))
    assert cli.main(["--debug", "plugin", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("blufio.errors.ConfigError: the key is wrong\n"
                        "blufio: error: the key is wrong\n")


def test_a_command_needing_a_kind_the_build_lacks_is_left_out_of_the_usage(monkeypatch):
    extra = cli.Command("dream", "blufio.commands.dream", ["dream [--deeply]"],
                        ["  --deeply                Dream deeply."], needs="embedding")
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, extra])
    catalog = build_record.catalog()
    with_it = {"features": ["sqlite", "dreamer"], "target": "source", "built_at": None}
    monkeypatch.setattr(build_record, "catalog", lambda: {**catalog, "plugins": [
        *catalog["plugins"], {"name": "dreamer", "adapter_type": "embedding"}]})

    monkeypatch.setattr(build_record, "current", lambda: with_it)
    assert "blufio [options] dream [--deeply]" in cli.usage_text()
    assert "--deeply                Dream deeply." in cli.usage_text()

    monkeypatch.setattr(build_record, "current", lambda: {**with_it, "features": ["sqlite"]})
    assert "dream" not in cli.usage_text()
    assert cli.main(["dream"]) == 2
