"""Imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

__all__ = ["import_optional"]


def import_optional(module: str, *, extra: str, needed_by: str) -> ModuleType:
    """Import ``module``, or raise an ImportError saying which extra of jointdist has it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"arch.univariate"``.
    extra : str
        The extra of ``pyproject.toml`` that installs it, e.g. ``"garch"``.
    needed_by : str
        What needs it, for the message, e.g. ``"DCCGarchForecaster"``.

    Examples
    --------
    >>> import_optional("math", extra="none", needed_by="this example").sqrt(4.0)
    2.0
    """
    try:
        return import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        raise ImportError(f"{needed_by} needs {package}: pip install 'jointdist[{extra}]' "
                          f"(importing {module} failed: {exc})") from exc
