"""Sphinx configuration of the jointdist documentation.

Build (from the repository root; no network access needed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Markdown pages are read by MyST; the API reference under ``api/`` is generated from
the numpydoc docstrings of the package by autodoc, autosummary and napoleon.
"""

from __future__ import annotations

import os
import sys

# Build against the checkout, also when jointdist is not installed (an installed copy
# would otherwise be documented instead of the sources next to these pages).
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import jointdist  # noqa: E402

project = "jointdist"
author = "jointdist developers"
copyright = "2026, jointdist developers"  # noqa: A001 (Sphinx's name)
version = release = jointdist.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- MyST (markdown pages) ---------------------------------------------------------------
# dollarmath: $...$ and $$...$$ in the guide pages; heading anchors let pages link to
# sections as [text](page.md#a-section).
myst_enable_extensions = ["dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3

# -- autodoc / autosummary / napoleon ----------------------------------------------------
autosummary_generate = False  # the api/*.rst pages are written by hand, no stub files
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
autodoc_typehints = "description"  # signatures stay short; types go to the field lists
autodoc_typehints_description_target = "documented"
autodoc_preserve_defaults = True
autoclass_content = "class"  # __init__ only assigns parameters (sklearn convention)

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# "Attributes" sections become ``:ivar:`` fields of their class, not separate attribute
# objects: type strings such as "(n_samples, horizon, n_targets)" are cross-referenced
# word by word, and attribute objects named like those words (SDEBatch.n_targets, ...)
# would make those references ambiguous.
napoleon_use_ivar = True
# With this, napoleon writes a fitted attribute ``n_targets_`` as ``n_targets\_``, so that
# reStructuredText does not read the trailing underscore as a hyperlink reference (which
# dropped it from the page).  The package's signatures contain no backslashes.
strip_signature_backslash = True

# No network at build time: no intersphinx, MathJax is loaded by the reader's browser.

# -- HTML ---------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"jointdist {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Forecasting the joint probability distribution of coupled time series",
    "fixed_sidebar": True,
    "show_relbars": True,
}


# -- hooks -------------------------------------------------------------------------------

def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's metadata-routing machinery.

    ``get_metadata_routing`` and the generated ``set_{method}_request`` methods come from
    ``sklearn.utils._metadata_requests``; they are not part of jointdist's API and their
    docstrings refer to labels of scikit-learn's own documentation.
    """
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn.utils._metadata_requests"):
        return True
    return None  # let autodoc decide


def _constant_doc(app, what, name, obj, options, lines):
    """Document a constant re-exported by a package with its ``#:`` comment.

    autodoc finds the ``#:`` comment of a module-level constant only in the module that
    defines it; for the same constant listed in a package's ``__all__`` (documented with
    ``:imported-members:``) it would show the docstring of its type instead ("Built-in
    immutable sequence.").  Look the comment up in the package's submodules; drop the
    type's docstring when there is none.
    """
    if what != "data":
        return
    import inspect

    from sphinx.pycode import ModuleAnalyzer, PycodeError

    modname, _, attr = name.rpartition(".")
    for module in sorted(m for m in list(sys.modules)
                         if m == modname or m.startswith(modname + ".")):
        try:
            comment = ModuleAnalyzer.for_module(module).find_attr_docs().get(("", attr))
        except PycodeError:
            continue
        if comment:
            lines[:] = [line for line in comment]
            return
    type_doc = inspect.getdoc(type(obj)) or ""
    if "\n".join(lines).strip() == type_doc.strip():
        lines[:] = []


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _constant_doc)
