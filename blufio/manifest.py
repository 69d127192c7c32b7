"""Plugin manifests: the ``plugin.toml`` beside each plugin's code.

A manifest extends the skill.toml pattern::

    name = "telegram"
    version = "0.1.0"
    description = "..."
    adapter_type = "channel"            # one of ADAPTER_TYPES
    capabilities = ["receive", "send"]
    min_blufio_version = "0.1.0"
    entry_point = "blufio.plugins.telegram.channel:TelegramChannel"
    config_section = "telegram"         # optional; defaults to the name

    [config.bot_token]                  # one table per configuration key
    type = "string"                     # string, integer, number, boolean, or a list: "integer[]";
                                        # processes: a whole number >= 1 or "auto"
    required = true
    secret = true
    default = ...                       # optional
    env = "TELEGRAM_BOT_TOKEN"          # optional conventional variable
    description = "..."

Reading a manifest never imports the plugin's code.
"""

from blufio.build_record import frozen_manifest, read_package_file
from blufio.config.schema import TYPES, ConfigKey
from blufio.errors import ManifestError  # still importable from here, as before the move

ADAPTER_TYPES = ("channel", "provider", "storage", "embedding", "observability", "auth",
                 "skill_runtime")

_REQUIRED_FIELDS = {
    "name": str, "version": str, "description": str, "adapter_type": str,
    "capabilities": list, "min_blufio_version": str, "entry_point": str,
}
_KEY_FIELDS = {"type", "required", "secret", "default", "env", "description"}


class Manifest:
    """A parsed, checked ``plugin.toml``."""

    __slots__ = ("path", "name", "version", "description", "adapter_type", "capabilities",
                 "min_blufio_version", "entry_point", "config_section", "config")

    def __init__(self, path, fields, config):
        self.path = path
        for field in _REQUIRED_FIELDS:
            setattr(self, field, fields[field])
        self.config_section = fields.get("config_section", fields["name"])
        self.config = config  # key name -> ConfigKey


def manifest_path(plugin_name):
    """Where a built-in plugin's manifest lives, relative to the ``blufio`` package."""
    return f"plugins/{plugin_name}/plugin.toml"


def load_manifest(plugin_name):
    """Read and check the manifest of the built-in plugin ``plugin_name``."""
    path = manifest_path(plugin_name)
    data = frozen_manifest(plugin_name)
    if data is not None:
        return manifest_from_data(data, path)
    try:
        text = read_package_file(*path.split("/"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return parse_manifest(text, path)


def identity(plugin_name):
    """``(name, version, adapter_type)`` from the manifest of ``plugin_name``: an adapter
    class takes its identity from here, so ``plugin.toml`` is its one source::

        class TelegramChannel:
            name, version, adapter_type = identity("telegram")
    """
    manifest = load_manifest(plugin_name)
    return manifest.name, manifest.version, manifest.adapter_type


def parse_manifest(text, path="plugin.toml"):
    """Parse manifest ``text``; errors name ``path`` and the field at fault."""
    from blufio.config.toml import TOMLDecodeError, loads

    try:
        data = loads(text)
    except TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from exc
    return manifest_from_data(data, path)


def manifest_from_data(data, path="plugin.toml"):
    """Check an already parsed manifest (a dict); errors name ``path`` and the field."""

    def fail(field, problem):
        raise ManifestError(f"{path}: field '{field}' {problem}")

    for field, kind in _REQUIRED_FIELDS.items():
        if field not in data:
            fail(field, "is missing")
        if not isinstance(data[field], kind):
            fail(field, f"must be a {'list' if kind is list else 'string'}")
    if data["adapter_type"] not in ADAPTER_TYPES:
        fail("adapter_type", f"must be one of {', '.join(ADAPTER_TYPES)}, not {data['adapter_type']!r}")
    if ":" not in data["entry_point"]:
        fail("entry_point", "must look like 'package.module:ClassName'")
    section = data.get("config_section", data["name"])
    if not isinstance(section, str):
        fail("config_section", "must be a string")

    config = {}
    for key, spec in data.get("config", {}).items():
        where = f"config.{key}"
        if not isinstance(spec, dict):
            fail(where, "must be a table")
        unknown = set(spec) - _KEY_FIELDS
        if unknown:
            fail(f"{where}.{sorted(unknown)[0]}", f"is not a key field ({', '.join(sorted(_KEY_FIELDS))})")
        if spec.get("type") not in TYPES:
            fail(f"{where}.type", f"must be one of {', '.join(sorted(TYPES))}")
        item = ConfigKey(section, key, spec["type"], required=bool(spec.get("required", False)),
                         secret=bool(spec.get("secret", False)), default=spec.get("default"),
                         env=spec.get("env"), description=spec.get("description", ""))
        if item.default is not None and not item.accepts(item.default):
            fail(f"{where}.default", f"must be {item.expected()}")
        config[key] = item
    return Manifest(path, data, config)


def incompatibility(manifest, running_version):
    """Why ``manifest`` cannot run on Blufio ``running_version``, in one line; None if it can.

    Versions are compared with ``packaging`` only when they differ as text, so the usual
    case (a built-in plugin of this very release) imports nothing.
    """
    wanted = manifest.min_blufio_version
    if wanted == running_version:
        return None
    from packaging.version import InvalidVersion, Version

    try:
        too_new = Version(wanted) > Version(running_version)
    except InvalidVersion:
        return (f"{manifest.path}: field 'min_blufio_version' is not a version: {wanted!r}")
    if too_new:
        return f"needs Blufio {wanted} or newer (this is {running_version})"
    return None
