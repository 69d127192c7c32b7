"""``build_archive``: one archive for a selection of features and a target."""

import os

from blufio._archive.native import NATIVE_PREFIX
from blufio_build.bytecode import compile_all, find_interpreter, sources_to_compile
from blufio_build.catalog import load_catalog
from blufio_build.contents import (
    FROZEN,
    blufio_files,
    blufio_version,
    frozen_module,
    main_module,
    manifests_of,
    wheel_entries,
)
from blufio_build.lock import read_lock
from blufio_build.resolve import resolve
from blufio_build.writer import built_at, write_archive, zip_date


def build_archive(features, target, output, epoch=None, extras=()):
    """Build ``output`` with ``features`` (plugin names) and ``extras`` (extra names, see
    ``blufio_build.catalog``) for ``target``; a summary dict.

    ``epoch`` (default ``$SOURCE_DATE_EPOCH``) fixes every timestamp, so the same inputs
    give the same bytes. The summary has ``output``, ``size``, ``wheels`` (as resolved),
    ``native`` (the native dists) and ``record`` (the frozen ``BUILD``).
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH") if epoch is None else epoch
    catalog = load_catalog()
    lock = read_lock()
    interpreter = find_interpreter(target)
    wheels = resolve(catalog, [*features, *extras], target, lock)

    entries, native_files, native = wheel_entries(wheels, target)
    for arc, data in blufio_files(features, catalog).items():
        entries[arc] = (data, 0o644)
    record = {"version": blufio_version(), "features": list(features),
              "extras": list(extras), "target": target.name,
              "python_version": target.python_version, "platform": target.arch, "built_at": built_at(epoch)}
    entries[FROZEN] = (frozen_module(record, catalog, manifests_of(features), native).encode(),
                       0o644)
    entries["__main__.py"] = (main_module(), 0o644)

    compiled = compile_all(sources_to_compile(entries, native_files, target), target,
                           interpreter)
    for (arc, _, pyc), data in compiled.items():
        (native_files if arc.startswith(NATIVE_PREFIX) else entries)[pyc] = (data, 0o644)
    entries.update(native_files)
    size = write_archive(entries, output, zip_date(epoch))
    return {"output": output, "size": size, "wheels": wheels, "native": native["dists"],
            "record": record}
