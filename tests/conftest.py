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


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch intra-op thread for a test module, restored afterwards.

    The networks and simulations under test are small; on a 2-core machine that other
    processes share, extra OpenMP threads mostly spin-wait (seen to cost 10x and more).
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def rng():
    return __import__("numpy").random.default_rng(12345)
