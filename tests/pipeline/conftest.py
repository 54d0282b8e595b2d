"""Fixtures shared by the pipeline tests: isolated app paths and tiny installed models."""

from __future__ import annotations

from tests.fixtures.installed_models import models, paths  # noqa: F401 - the fixtures of these tests
