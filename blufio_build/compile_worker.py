"""Run by the target's interpreter: compile the jobs read from stdin as JSON.

Each job is ``[source path, pyc path, name recorded in the pyc]``; the bytecode is an
unchecked hash-based pyc, so it depends only on the source, that name and the interpreter.
Stdlib only: it runs with ``-I`` under whatever CPython the target needs.
"""

import json
import py_compile
import sys


def main():
    """Compile every job; the first failure raises (and exits non-zero)."""
    for source, cfile, dfile in json.load(sys.stdin):
        py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


if __name__ == "__main__":
    main()
