"""Where the randomness of one DP fit comes from.

Every stream is named (:mod:`privgate.randomness`): ``("fit", generator, stream)`` under the
audit's seed, so one seed gives one fit and no two streams collide. Two kinds:

* *model* streams (weight initialisation, the model's own sampling noise, the fake rows of a
  GAN) are always derived from the seed: they are not privacy mechanisms;
* *mechanism* streams (the DP-SGD noise, the Poisson batches, the DP domain histograms and any
  count released with the Laplace or Gaussian mechanism) are derived from the seed too, unless
  the user asks for ``secure_rng``: then they come from generators seeded with fresh bits from
  ``os.urandom`` (:mod:`secrets`), so that the seed printed in a report does not give away the
  noise. The fit is then not reproducible. Opacus' own ``secure_mode`` needs ``torchcsprng``,
  which privgate does not install; the generators used here are torch's Mersenne Twister and
  numpy's PCG64 with unpredictable seeds, not cryptographic generators, and
  :attr:`Streams.noise_source` says so in every :class:`~privgate.PrivacySpent`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from privgate.randomness import child_seed, rng, torch_generator

if TYPE_CHECKING:
    import torch

#: ``noise_source`` of a reproducible fit.
SEEDED_SOURCE = ("named streams seeded from the audit seed (numpy SeedSequence): "
                 "reproducible; not secure, anyone who knows the seed can replay the noise")
#: ``noise_source`` with ``secure_rng = true``.
SECURE_SOURCE = ("os.urandom-seeded generators (torch.Generator for the DP-SGD noise and the "
                 "Poisson batches, numpy PCG64 for released counts): not reproducible from the "
                 "audit seed; not a cryptographic generator (opacus' secure_mode needs "
                 "torchcsprng)")


@dataclass(frozen=True)
class Streams:
    """The random streams of one fit of generator ``name`` under ``seed``."""

    seed: int
    name: str
    secure: bool = False

    @property
    def noise_source(self) -> str:
        """Which source the privacy mechanisms draw from, in words (for the report)."""
        return SECURE_SOURCE if self.secure else SEEDED_SOURCE

    def child_seed(self, stream: str) -> int:
        """A 32-bit seed for the model stream ``stream`` (e.g. a model's own generator)."""
        return child_seed(self.seed, "fit", self.name, stream)

    def numpy(self, stream: str) -> np.random.Generator:
        """A numpy generator on the model stream ``stream``."""
        return rng(self.seed, "fit", self.name, stream)

    def mechanism_numpy(self, stream: str) -> np.random.Generator:
        """A numpy generator for a privacy mechanism (secure when asked)."""
        if self.secure:
            return np.random.default_rng(secrets.randbits(128))
        return rng(self.seed, "fit", self.name, stream)

    def mechanism_torch(self, stream: str) -> torch.Generator:
        """A torch generator for a privacy mechanism (secure when asked)."""
        if self.secure:
            import torch

            return torch.Generator().manual_seed(secrets.randbits(64))
        return torch_generator(self.seed, "fit", self.name, stream)

    @contextmanager
    def global_torch(self, stream: str) -> Iterator[None]:
        """Run the block with torch's global generator forked and seeded from ``stream``
        (for code that draws from it: ``nn.Linear``'s initialisation, ``torch.randn``)."""
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.child_seed(stream))
            yield
