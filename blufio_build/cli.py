"""The command line of ``build_zipapp.py``."""

import argparse
import os
import sys
import time

from blufio.errors import BlufioError


def parser():
    """The argument parser (every option documented in ``--help``)."""
    p = argparse.ArgumentParser(
        prog="build_zipapp.py", description="Build Blufio as one file (a zipapp).")
    p.add_argument("--features", action="append", default=[],
                   help="plugins and extras to add, comma-separated (see --list-features)")
    p.add_argument("--no-default-features", action="store_true",
                   help="start from nothing instead of the default bundle")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="build even without a provider or a storage plugin")
    p.add_argument("--list-features", action="store_true",
                   help="list the catalog's plugins and extras, defaults marked, and exit")
    p.add_argument("-o", "--output", default=os.path.join("dist", "blufio.pyz"))
    p.add_argument("--python-version", default=None,
                   help="target CPython minor, e.g. 3.12 (default: this interpreter's)")
    p.add_argument("--platform", default=None,
                   help="target architecture: x86_64 or aarch64 (default: this machine's)")
    p.add_argument("--update-lock", action="store_true",
                   help="re-pin wheels.lock for every supported target, then exit")
    return p


def main(argv=None):
    """Run the build's command line; return the exit status (errors: one line, no
    traceback; 2 for what the command line asked wrong)."""
    args = parser().parse_args(argv)
    try:
        return run(args)
    except BlufioError as exc:
        print(f"build_zipapp.py: error: {exc}", file=sys.stderr)
        return exc.exit_code


def run(args):
    """Do what ``args`` ask."""
    from blufio_build.catalog import feature_lines, load_catalog, select_features

    catalog = load_catalog()
    if args.list_features:
        print("\n".join(feature_lines(catalog)))
        return 0
    if args.update_lock:
        from blufio_build.lock import update_lock

        update_lock(catalog=catalog)
        return 0
    from blufio_build.build import build_archive
    from blufio_build.target import Target, host_target

    requested = [f for group in args.features for f in group.split(",")]
    features, extras, gaps = select_features(
        catalog, requested, not args.no_default_features, args.allow_incomplete)
    host = host_target()
    target = Target(args.python_version or host.python_version, args.platform or host.arch)
    started = time.monotonic()
    summary = build_archive(features, target, args.output, extras=extras)
    for gap in gaps:
        print(f"warning: {gap}", file=sys.stderr)
    print(f"built {summary['output']} ({summary['size'] / 1e6:.1f} MB) for {target.name} "
          f"in {time.monotonic() - started:.1f}s: {', '.join(features) or 'no plugins'}"
          f"{''.join(f' + {extra}' for extra in extras)}; "
          f"{len(summary['wheels'])} wheels, native: {', '.join(summary['native']) or 'none'}")
    return 0
