"""The documentation site builds without warnings (issue 10).

The build is the command of ``docs/conf.py``, ``python -m sphinx -W --keep-going -b
html docs <out>``, into a temporary folder; every warning (a broken cross-reference, a
malformed docstring, a page outside the table of contents) fails it.  The build needs
Sphinx and MyST-Parser (the ``docs`` extra); without them the test is skipped.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Public modules of the API reference, the page that documents them, and the names of
#: their ``__all__`` that are documented elsewhere on purpose (one entry per object).
API_MODULES = {
    "jointdist.base": ("api/jointdist.html", ()),
    "jointdist.device": ("api/jointdist.html", ()),
    "jointdist.models": ("api/models.html", ()),
    "jointdist.models.dcc_garch": ("api/models.html", ("DCCGarchForecaster",)),
    "jointdist.models.jointfm": ("api/models.html", ("JointFMForecaster",)),
    "jointdist.models.diffusion_copula": ("api/models.html", ("DiffusionCopulaForecaster",)),
    "jointdist.metrics": ("api/metrics.html", ()),
    "jointdist.datasets.sde": ("api/datasets.html", ()),
    "jointdist.datasets.dynlmc": ("api/datasets.html", ()),
    "jointdist.datasets.regime_walk": ("api/datasets.html", ()),
    "jointdist.datasets.families": ("api/datasets.html", ()),
    "jointdist.datasets.real": ("api/datasets.html", ()),
    "jointdist.sktime": ("api/sktime.html", ()),
    "jointdist.model_selection": ("api/model_selection.html", ()),
    "jointdist.evaluation": ("api/evaluation.html", ()),
    "jointdist.plotting": ("api/plotting.html", ()),
    "jointdist.cli": ("api/cli.html", ()),
}


def test_api_pages_name_every_public_module():
    """Each public module has an ``automodule`` directive on its API page."""
    for module, (page, _) in API_MODULES.items():
        source = DOCS / page.replace(".html", ".rst")
        assert f".. automodule:: {module}\n" in source.read_text(encoding="utf-8"), (
            f"{module} is not documented in {source.relative_to(ROOT)}")


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="sphinx is not installed (the docs extra)")
    pytest.importorskip("myst_parser", reason="myst-parser is not installed (the docs extra)")
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (
        f"sphinx exited with {proc.returncode}; warnings and errors:\n{proc.stderr[-8000:]}"
        f"\n{proc.stdout[-2000:]}")
    for page in ["index.html", "guide/concepts.html", "guide/gpu.html", "guide/cli.html",
                 "guide/pretraining.html", "models/index.html", "models/historical.html",
                 "metrics.html", "sktime.html", "api/index.html"]:
        assert (out / page).is_file(), f"{page} was not built"

    # every name of every public module's __all__ has an entry in the API reference
    undocumented = []
    for module, (page, elsewhere) in API_MODULES.items():
        html = (out / page).read_text(encoding="utf-8")
        ids = set(re.findall(r'id="([^"]+)"', html))
        for name in importlib.import_module(module).__all__:
            if name not in elsewhere and f"{module}.{name}" not in ids:
                undocumented.append(f"{module}.{name} (on {page})")
    assert not undocumented, ("public names without an API entry (a docstring or a #: "
                              "comment is missing?): " + ", ".join(undocumented))
