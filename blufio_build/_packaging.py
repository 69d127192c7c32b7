"""``packaging``, from the build's interpreter or else the copy pip vendors.

Every ``python3`` with pip has one of the two, so the build needs nothing installed.
"""

try:
    from packaging import markers, tags
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:
    from pip._vendor.packaging import markers, tags
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.specifiers import SpecifierSet
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

__all__ = ["Requirement", "SpecifierSet", "canonicalize_name", "markers",
           "parse_wheel_filename", "tags"]
