"""A seeded, reproducible generator of realistic registry data inside real county boundaries."""

from .generate import DemoReport, generate

__all__ = ["DemoReport", "generate"]
