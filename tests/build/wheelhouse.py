"""Real, tiny wheels made on the spot, and a lock and a cache holding them.

The wheels are valid (METADATA, WHEEL, RECORD), so pip itself can download them from a
local ``--find-links`` directory: tests that need pip use it, never the package index.
"""

import base64
import hashlib
import os
import zipfile


def make_wheel(directory, name, version, tag="py3-none-any", requires=(), files=None):
    """Write ``name-version-tag.whl`` into ``directory``; return ``(sha256, filename)``.

    ``requires`` are ``Requires-Dist`` lines; ``files`` maps archive names to bytes
    (default: one ``<name>/__init__.py``).
    """
    module = name.replace("-", "_")
    files = dict(files or {f"{module}/__init__.py": f"VERSION = {version!r}\n".encode()})
    info = f"{module}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {line}" for line in requires]
    files[f"{info}/METADATA"] = ("\n".join(metadata) + "\n\n").encode()
    files[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: "
                              f"{'true' if tag.endswith('none-any') else 'false'}\n"
                              f"Tag: {tag}\n").encode()
    record = [f"{arc},sha256={_urlsafe(data)},{len(data)}" for arc, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    filename = f"{module}-{version}-{tag}.whl"
    path = os.path.join(directory, filename)
    os.makedirs(directory, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for arc in sorted(files):
            zf.writestr(arc, files[arc])
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), filename


def _urlsafe(data):
    digest = hashlib.sha256(data).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def catalog(core=(), **plugins):
    """A catalog with ``core`` packages and one default plugin per keyword (its packages)."""
    kinds = {"anthropic": "provider", "sqlite": "storage"}
    return {"catalog_version": 1, "core_packages": list(core), "plugins": [
        {"name": name, "adapter_type": kinds.get(name, "channel"), "description": name,
         "default": True, "aliases": [], "packages": list(packages)}
        for name, packages in plugins.items()]}
