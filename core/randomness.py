"""Named random streams: one seed, many independent generators, each known by its name.

Hand-picked offsets (``seed + 1``, ``seed * 1_000_003 + round``) collide between components
and hide which stream is which. Here every stream is derived from the audit's seed and a *name*
through :class:`numpy.random.SeedSequence`: the name's UTF-8 bytes become extra entropy words,
so ``stream(7, "fit", "dpsgd-vae", "batches")`` is the same on every machine and run, and
independent of ``stream(7, "fit", "dpsgd-vae", "noise")`` and of every other name.

* :func:`seed_sequence` -- the :class:`~numpy.random.SeedSequence` of a name;
* :func:`rng` -- a :class:`numpy.random.Generator` on it;
* :func:`child_seed` -- a 32-bit integer seed for libraries that take one (scikit-learn,
  anonymeter, polars);
* :func:`torch_generator` -- a ``torch.Generator`` seeded from it (torch imported lazily).

The DP noise stream is special: a user may ask for a cryptographically secure source
(``secure_rng = true``), which :mod:`privgate.dp` handles; the seed printed in a report then
does not determine the noise.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["child_seed", "rng", "seed_sequence", "torch_generator"]


def _words(name: tuple[Any, ...]) -> list[int]:
    """The name as 32-bit words (a SHA-256 of its parts, so any text is fine)."""
    text = "\x1f".join(str(part) for part in name).encode("utf-8")
    digest = hashlib.sha256(text).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 32, 4)]


def seed_sequence(seed: int, *name: Any) -> np.random.SeedSequence:
    """The stream called ``name`` under ``seed`` (e.g. ``seed_sequence(7, "split")``)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise ValueError(f"a seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence([int(seed), *_words(name)])


def rng(seed: int, *name: Any) -> np.random.Generator:
    """A numpy generator on the stream called ``name``."""
    return np.random.default_rng(seed_sequence(seed, *name))


def child_seed(seed: int, *name: Any) -> int:
    """A 32-bit seed (``0 <= s < 2**32``) for a library that takes an integer."""
    return int(seed_sequence(seed, *name).generate_state(1, dtype=np.uint32)[0])


def torch_generator(seed: int, *name: Any) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from the stream called ``name``."""
    import torch

    state = seed_sequence(seed, *name).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
