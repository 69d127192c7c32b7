"""Which wheels a build needs: one walk over requirements, used by builds and the lock.

``walk`` starts from the catalog's packages for the chosen features and follows each
wheel's ``Requires-Dist``, evaluating markers for the *target* (not the build host) and
``extra == ...`` markers for the extras the requiring package was asked for. What to do
with each requirement is the caller's: a build takes the lock's pin (``resolve``),
``--update-lock`` chooses and pins versions (``blufio_build.lock``).
"""

import os
from collections import deque

from blufio.errors import BuildError
from blufio_build._packaging import Requirement, canonicalize_name, parse_wheel_filename
from blufio_build.wheels import PREFER_PURE, fetch, is_pure, wheel_requirements

UPDATE_HINT = "run python3 build_zipapp.py --update-lock"


def top_level_requirements(catalog, features):
    """The catalog's core packages and those of each feature (a plugin or an extra), as
    requirements."""
    entries = {e["name"]: e for e in (*catalog["plugins"], *catalog.get("extras", ()))}
    names = list(catalog["core_packages"])
    for feature in features:
        names += entries[feature]["packages"]
    return [Requirement(n) for n in names]


def applies(requirement, environment, extras=()):
    """Whether ``requirement`` applies on the target, for the requiring package's
    ``extras``."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate(dict(environment, extra=extra))
               for extra in ("", *extras))


def walk(requirements, target, choose):
    """Visit every package ``requirements`` lead to on ``target``, breadth first.

    ``choose(name, requirement, needed_by)`` is called for every requirement that applies
    (so it sees every constraint on a package) and returns the path of the wheel chosen
    for it; that wheel's own requirements are followed the first time a package is reached
    with a given set of extras. ``needed_by`` is ``catalog.json`` or ``name==version``.
    """
    environment = target.environment()
    queue = deque((r, (), "catalog.json") for r in requirements)
    seen = set()
    while queue:
        requirement, parent_extras, needed_by = queue.popleft()
        if not applies(requirement, environment, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        path = choose(name, requirement, needed_by)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        version = wheel_version(path)
        for line in wheel_requirements(path):
            queue.append((Requirement(line), tuple(sorted(requirement.extras)),
                          f"{name}=={version}"))
    return {name for name, _ in seen}


def wheel_version(wheel_path):
    """The version in a wheel's file name."""
    return parse_wheel_filename(os.path.basename(wheel_path))[1].public


def best_wheel(name, files, target):
    """The ``(sha256, filename)`` of ``files`` best for ``target``, or None when none runs
    there: the most specific tag wins, except that a pure wheel of a ``PREFER_PURE``
    package wins over any other."""
    ranked = sorted((name in PREFER_PURE and not is_pure(f), target.priority(f), f, d)
                    for d, f in files if target.priority(f) is not None)
    return (ranked[0][3], ranked[0][2]) if ranked else None


def resolve(catalog, features, target, lock):
    """The wheels (name, version, sha256, filename) this build needs for ``features``
    (plugins and extras), sorted by name.

    Every wheel comes from ``lock`` (see ``blufio_build.lock.read_lock``), fetched into
    the cache if missing; a package the lock lacks or pins to a version a requirement
    excludes is a ``BuildError`` saying how to re-pin.
    """
    chosen = {}

    def choose(name, requirement, needed_by):
        if name not in lock:
            raise BuildError(f"{name} (needed by {needed_by}) is not in wheels.lock; "
                             + UPDATE_HINT)
        version, files = lock[name]
        if not requirement.specifier.contains(version, prereleases=True):
            raise BuildError(f"wheels.lock pins {name}=={version}, but {needed_by} needs "
                             f"{requirement}; {UPDATE_HINT}")
        if name not in chosen:
            best = best_wheel(name, files, target)
            if best is None:
                raise BuildError(f"wheels.lock has no wheel of {name}=={version} for "
                                 f"{target.name}; {UPDATE_HINT}")
            wheel = (name, version, *best)
            chosen[name] = (wheel, fetch(wheel, target))
        return chosen[name][1]

    walk(top_level_requirements(catalog, features), target, choose)
    return [chosen[name][0] for name in sorted(chosen)]
