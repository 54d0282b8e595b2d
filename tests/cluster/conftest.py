"""A private Ray cluster on 127.0.0.1 for the ``cluster`` tests (one per session, shut down at the end).

The tests skip, with the reason shown, only when Ray cannot be imported; CI installs the
``[cluster]`` extra, so there they run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.installed_models import models, paths  # noqa: F401 - the fixtures of these tests

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """Ray connected to a 2-CPU cluster bound to the loopback interface, no dashboard, no usage stats."""
    os.environ.update(LOOPBACK_ENV)  # read when Ray is imported, inherited by the processes it starts
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'wildlife-desktop[cluster]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Ray's own, at start-up
        ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=2, include_dashboard=False,
                 log_to_driver=False, object_store_memory=256 << 20, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()
