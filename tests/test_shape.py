"""The shape of the code, pinned: small modules, simple functions, a docstring on every
package and module of the product (``blufio``) and its build (``blufio_build``)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_LINES = 420  # "about 400"
MAX_COMPLEXITY = 15  # radon's cyclomatic complexity, per function or method
SOURCES = sorted(p for package in ("blufio", "blufio_build")
                 for p in (ROOT / package).rglob("*.py") if "_frozen" not in p.name)


def relative(path):
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", SOURCES, ids=relative)
def test_every_module_is_small_and_says_what_it_is_for(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_LINES, f"{relative(path)} has grown past {MAX_LINES} lines"
    if text.strip():
        assert ast.get_docstring(ast.parse(text)), f"{relative(path)} has no docstring"


def test_no_function_is_too_complex_to_follow():
    from radon.complexity import cc_visit

    too_complex = [f"{relative(path)}:{block.lineno} {block.name} ({block.complexity})"
                   for path in SOURCES
                   for block in cc_visit(path.read_text(encoding="utf-8"))
                   if block.complexity > MAX_COMPLEXITY]
    assert too_complex == []
