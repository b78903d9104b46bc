"""Start-up cost: ``import jointdist`` and ``jointdist --help`` import no heavy library.

``jointdist --help`` took 2.7 s on a quiet 2-core machine because the entry point
imported the whole package (issue 15, item 12).  No wall-clock here: the tests check
*which* modules a fresh interpreter has imported, which is what the start-up time is
made of (``python -X importtime`` lists them).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Libraries that take from 0.1 s (numpy) to seconds (torch, sklearn) to import.
HEAVY = ("numpy", "scipy", "pandas", "sklearn", "torch", "arch", "sktime", "skpro",
         "matplotlib", "joblib", "tqdm", "dask", "distributed")


def _heavy_modules_after(code: str) -> list[str]:
    """Top-level heavy packages a fresh interpreter has imported after running ``code``."""
    script = code + (
        "\nimport sys\n"
        f"print('HEAVY:' + ','.join(sorted({{m.split('.')[0] for m in sys.modules}}\n"
        f"                                  & set({HEAVY!r}))))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=1800)  # a hang guard, not a speed test
    assert proc.returncode == 0, proc.stderr
    line = [line for line in proc.stdout.splitlines() if line.startswith("HEAVY:")][-1]
    return [name for name in line[len("HEAVY:"):].split(",") if name]


def test_import_jointdist_imports_no_heavy_library():
    assert _heavy_modules_after("import jointdist, jointdist.models\n"
                                "names = dir(jointdist), jointdist.__all__") == []


@pytest.mark.parametrize("argv", [["--help"], ["forecast", "--help"], ["benchmark", "--help"],
                                  ["generate", "--help"]])
def test_help_imports_no_heavy_library(argv):
    code = ("import jointdist.cli\n"
            "parser = jointdist.cli.build_parser()\n"
            "try:\n"
            f"    jointdist.cli.main({argv!r})\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n")
    assert _heavy_modules_after(code) == []


def test_console_entry_point_help_imports_no_heavy_library():
    """``python -m jointdist --help``, the console script's path, seen by -X importtime."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "jointdist", "--help"],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0 and "usage: jointdist" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "jointdist" in imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_lazy_exports_resolve_and_are_listed():
    import jointdist
    import jointdist.models
    from jointdist.models.historical import HistoricalSimulation

    assert jointdist.HistoricalSimulation is HistoricalSimulation
    from jointdist import DCCGarchForecaster, NotFittedError, resolve_device  # noqa: F401

    for module in (jointdist, jointdist.models):
        assert set(module.__all__) <= set(dir(module))
        for name in module.__all__:
            assert getattr(module, name) is not None, name
        with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
            module.not_a_name  # noqa: B018
    assert jointdist.metrics.energy_score is not None  # subpackages without an import
    assert jointdist.models.dcc_garch.fit_dcc is not None
