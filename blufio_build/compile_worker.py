"""Run by the target's interpreter: compile the jobs read from stdin as JSON.

Each job is ``[source path, pyc path, name recorded in the pyc]``; the bytecode is an
unchecked hash-based pyc, so it depends only on the source, that name and the interpreter.
Stdlib only: it runs with ``-I`` under whatever CPython the target needs.
"""

import json
import py_compile
import sys


def main():
    """Compile every job; at the first that fails, print why (no traceback) and exit 1."""
    for source, cfile, dfile in json.load(sys.stdin):
        try:
            py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except py_compile.PyCompileError as exc:
            sys.exit(exc.msg.strip())


if __name__ == "__main__":
    main()
