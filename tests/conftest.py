"""Shared test configuration.

* hypothesis runs derandomized (a fixed seed per test) so CI is reproducible;
* tests marked ``slow`` run after all the others, in the same pytest call.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "jointdist",
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "jointdist"))


def pytest_collection_modifyitems(config, items):
    """Fast tests first, slow suites last (stable order otherwise)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)


@pytest.fixture
def rng():
    return __import__("numpy").random.default_rng(12345)
