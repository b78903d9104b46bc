"""Names of a package imported on first use (PEP 562 module ``__getattr__``)."""

from __future__ import annotations

import sys
from importlib import import_module

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str], submodules=()):
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to str
        Exported name -> module that defines it (imported when the name is first used,
        then cached in the package's namespace).
    submodules : sequence of str, default=()
        Subpackages reachable as attributes (``package.sub``) without an import.

    Returns
    -------
    (__getattr__, __dir__) : the two module-level functions, to assign in the package.
    """
    namespace = sys.modules[package].__dict__
    submodules = tuple(submodules)

    def __getattr__(name):
        if name in exports:
            value = getattr(import_module(exports[name]), name)
        elif name in submodules:
            value = import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # import once
        return value

    def __dir__():
        return sorted(set(namespace) | set(namespace.get("__all__", ())) | set(submodules))

    return __getattr__, __dir__
