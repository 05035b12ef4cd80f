"""Scalar random draws with numpy's Generator vocabulary, at the speed of the standard library.

numpy is fast for arrays and slow for one number at a time (microseconds a call); the per-row
decisions of the generator use this instead, seeded from the same numpy generator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Draw:
    def __init__(self, seed: int):
        self._random = random.Random(seed)

    def random(self) -> float:
        return self._random.random()

    def integers(self, low: int, high: int) -> int:
        """An integer in [low, high), as numpy's Generator.integers."""
        return self._random.randrange(int(low), int(high))

    def uniform(self, low: float, high: float) -> float:
        return self._random.uniform(low, high)

    def choice(
        self, options: Sequence[T], p: Sequence[float] | None = None, size: int | None = None
    ):
        options = list(options)
        if size is not None:
            return self._random.choices(options, weights=p, k=size)
        return (
            self._random.choices(options, weights=p)[0]
            if p is not None
            else self._random.choice(options)
        )

    def lognormal(self, mean: float, sigma: float) -> float:
        return self._random.lognormvariate(mean, sigma)

    def exponential(self, scale: float) -> float:
        return self._random.expovariate(1 / scale)

    def poisson(self, lam: float) -> int:
        # Knuth's method: fine for the small rates used here.
        limit, k, product = math.exp(-lam), 0, self._random.random()
        while product > limit:
            k += 1
            product *= self._random.random()
        return k
