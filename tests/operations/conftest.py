"""The throwaway clusters' fixtures (clusters.py) for this folder's tests."""

from tests.operations.clusters import primary, workdir  # noqa: F401
