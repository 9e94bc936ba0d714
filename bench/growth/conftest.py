"""Refuses a growth run whose ``FASTDOS_GROWTH_*`` settings make no sense, with one line instead of a traceback."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not any(name.startswith("FASTDOS_GROWTH_") for name in os.environ):
        return  # (nothing to check; keeps `make bench` from importing the growth module)
    from bench.growth.curves import env_problem

    problem = env_problem()
    if problem:
        raise pytest.UsageError(problem)
