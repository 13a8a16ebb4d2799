"""The embedded benchmark: a deterministic, offline stream of image-text chunks composed from real packaged images."""

from .builder import SCALES, build_benchmark

__all__ = ["SCALES", "build_benchmark"]
