"""``blufio skill list | info SERVER | call SERVER TOOL [JSON] | import FILE``.

These commands exist only in a build with a skill runtime (``cli.usage`` leaves them out
otherwise), and they belong to it: this module finds the build's skill runtime plugin
through the registry and hands the command to its adapter class's ``command(args,
registry)``, so no skill runtime code is named here.
"""

from blufio.registry import PluginRegistry


def run(args):
    registry = PluginRegistry.load(args["--config"])
    info = registry.require("skill_runtime")
    return registry.adapter_class(info.name).command(args, registry)
