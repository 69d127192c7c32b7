"""Writing the archive: a ``python3`` shebang, then a zip that the same entries and
``SOURCE_DATE_EPOCH`` make byte for byte the same.

Entries are written sorted, with their directories, one fixed timestamp, Unix modes
(0644, or 0755 when executable) and maximum deflate; the file appears atomically.
"""

import os
import time
import zipfile

SHEBANG = b"#!/usr/bin/env python3\n"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record


def zip_date(epoch):
    """The timestamp of every entry: ``SOURCE_DATE_EPOCH`` (a string) or ``FIXED_DATE``."""
    return max(time.gmtime(int(epoch))[:6], FIXED_DATE) if epoch else FIXED_DATE


def built_at(epoch, now=None):
    """The build time recorded in the archive: ``SOURCE_DATE_EPOCH``, else now (UTC)."""
    seconds = int(epoch) if epoch else (time.time() if now is None else now)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def directories(names):
    """Every directory (``a/``, ``a/b/``) the archive names lie in."""
    found = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            found.add("/".join(parts[:i]) + "/")
    return found


def write_archive(entries, output, date_time):
    """Write ``{arcname: (bytes, mode)}`` to ``output`` (mode 0755); its size in bytes."""
    os.makedirs(os.path.dirname(os.path.abspath(output)) or ".", exist_ok=True)
    tmp = f"{output}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as raw:
            raw.write(SHEBANG)
            with zipfile.ZipFile(raw, "w") as zf:
                for arc in sorted(directories(entries) | set(entries)):
                    _write_entry(zf, arc, entries.get(arc), date_time)
        os.chmod(tmp, 0o755)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return os.path.getsize(output)


def _write_entry(zf, arc, entry, date_time):
    info = zipfile.ZipInfo(arc, date_time)
    info.create_system = 3  # Unix, so the modes below mean what they say
    if arc.endswith("/"):
        info.external_attr = (0o40755 << 16) | 0x10
        zf.writestr(info, b"")
        return
    data, mode = entry
    info.external_attr = (0o100000 | (0o755 if mode & 0o111 else 0o644)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data, compresslevel=9)
