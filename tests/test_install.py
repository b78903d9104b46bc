"""What each install gives (issue 15, item 11).

The core install (``pip install jointdist``) is numpy, scipy, pandas, scikit-learn,
torch (the metrics and the SDE generators compute in torch), joblib, threadpoolctl and
tqdm; sktime/skpro, arch and matplotlib are extras, and a missing extra gives an
ImportError that names it.  Missing packages are simulated in a fresh interpreter with
``sys.modules[name] = None``, which makes ``import name`` raise ImportError.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Import names of the core dependencies (and the distribution of each).
CORE = {"numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "sklearn": "scikit-learn",
        "torch": "torch", "joblib": "joblib", "threadpoolctl": "threadpoolctl",
        "tqdm": "tqdm"}
#: The extra that installs each optional package.
OPTIONAL = {"arch": "garch", "sktime": "sktime", "skpro": "sktime", "matplotlib": "plot"}


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def test_without_the_extras_the_core_works_and_errors_name_the_extra():
    code = textwrap.dedent(f"""
        import sys
        for name in {sorted(OPTIONAL)!r}:
            sys.modules[name] = None  # as if not installed
        import numpy as np
        import jointdist
        from jointdist import DCCGarchForecaster, HistoricalSimulation
        from jointdist.metrics import energy_score

        y = 100 + np.cumsum(np.random.default_rng(0).normal(size=(300, 2)), axis=0)
        samples = HistoricalSimulation(random_state=0).fit(y[:-5]).predict_samples(5, 50)
        assert samples.shape == (50, 5, 2) and energy_score(y[-5:], samples) > 0

        def message(call):
            try:
                call()
            except ImportError as exc:
                return str(exc)
            raise AssertionError("no ImportError")

        print("DCC:", message(lambda: DCCGarchForecaster().fit(y)))
        print("SKTIME:", message(lambda: HistoricalSimulation().fit(y).to_sktime()))
        from jointdist.plotting import plot_fan_chart
        print("PLOT:", message(lambda: plot_fan_chart(samples)))
        """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=1800, cwd=ROOT)  # a hang guard, not a speed test
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    assert lines["DCC"].startswith("DCCGarchForecaster needs arch: pip install "
                                   "'jointdist[garch]'"), lines["DCC"]
    assert "needs sktime: pip install 'jointdist[sktime]'" in lines["SKTIME"]
    assert "pip install 'jointdist[plot]'" in lines["PLOT"]


def test_dcc_works_with_arch():
    pytest.importorskip("arch")
    import numpy as np

    from jointdist import DCCGarchForecaster

    y = np.cumsum(np.random.default_rng(1).normal(size=(300, 2)), axis=0)
    paths = DCCGarchForecaster(random_state=0).fit(y).predict_samples(3, 20)
    assert paths.shape == (20, 3, 2) and np.isfinite(paths).all()


def test_module_level_imports_are_core_dependencies():
    """An optional package imported at module level would break ``import jointdist.x``
    for a core install; jointdist.sktime checks for its extra before importing it."""
    allowed = set(CORE) | {"jointdist"} | set(sys.stdlib_module_names)
    exceptions = {("jointdist/sktime/_adapter.py", "sktime")}
    offenders = []
    for path in sorted((ROOT / "jointdist").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
                if isinstance(sub, ast.Import):
                    roots = [alias.name.split(".")[0] for alias in sub.names]
                elif isinstance(sub, ast.ImportFrom) and sub.level == 0:
                    roots = [sub.module.split(".")[0]]
                else:
                    continue
                relative = path.relative_to(ROOT).as_posix()
                offenders += [f"{relative}: {root}" for root in roots
                              if root not in allowed and (relative, root) not in exceptions]
    assert not offenders, offenders


def test_extras_and_bounds():
    project = _pyproject()["project"]
    core = _names(project["dependencies"])
    assert core == set(CORE.values()), core
    extras = project["optional-dependencies"]
    assert {"torch", "sktime", "garch", "plot", "all", "dev"} <= set(extras)
    assert _names(extras["sktime"]) == {"sktime", "skpro"}
    assert _names(extras["garch"]) == {"arch"} and _names(extras["plot"]) == {"matplotlib"}
    assert "properscoring" not in core and "properscoring" in _names(extras["dev"])
    everything = " ".join(extras["all"])
    assert all(extra in everything for extra in ("torch", "sktime", "garch", "plot"))
    assert "jointdist[all]" in extras["dev"]  # the tests need every extra
    # upper bounds at the next major version: "<N" or "<N.0", never "<N.M" with M > 0
    # (0.x packages excepted, where the minor version is the major one)
    for requirement in project["dependencies"] + extras["sktime"] + extras["garch"] \
            + extras["plot"]:
        for bound in re.findall(r"<\s*([0-9][0-9.]*)", requirement):
            major, *rest = bound.split(".")
            assert major == "0" or all(part == "0" for part in rest), requirement


def test_readme_first_command_installs_the_main_job_and_its_figure():
    """``jointdist benchmark --quick`` fits hs, dcc (arch) and jointfm and draws a figure
    (matplotlib): the README's first command must install them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    first = next(line for line in quickstart.splitlines() if line.startswith("pip install"))
    assert first.endswith("jointdist benchmark --quick")
    match = re.search(r'-e "?\.\[([a-z,]+)\]', first)
    assert match, f"the first command installs no extra: {first}"
    chosen = set(match.group(1).split(","))
    extras = _pyproject()["project"]["optional-dependencies"]
    installed = set().union(*(_names(extras[e]) for e in chosen))
    if "all" in chosen:
        installed |= {"arch", "matplotlib"}
    assert {"arch", "matplotlib"} <= installed, chosen
