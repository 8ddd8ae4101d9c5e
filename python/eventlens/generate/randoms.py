"""Random numbers that depend only on (seed, stream, event number).

The detector draws its random numbers from one numpy ``Generator`` per event,
seeded with ``[seed, stream, event]``.  An event's smearing is therefore the
same whatever batch or chunk it was simulated in, which is what makes a file
independent of ``--batch-size`` and of how many ``--jobs`` produced it.  Each
stage draws a fixed-width block per object, in a fixed order, so adding an
object to one event never shifts the numbers another event receives.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

#: Pythia accepts Random:seed in [1, 900000000].
PYTHIA_SEED_MAX = 900_000_000


def stream_key(name: str) -> int:
    """A stable 32-bit integer for a text key (e.g. a process name)."""
    return zlib.crc32(name.encode())


def derive_seed(seed: int, *keys: int) -> int:
    """A Pythia seed in [1, 9e8] for ``(seed, *keys)`` (e.g. process, chunk, instance)."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(1, np.uint64)[0]
    return int(state % PYTHIA_SEED_MAX) + 1


class EventRandom:
    """One independent generator per event, drawn from in a fixed order by the detector."""

    def __init__(self, seed: int, key: int, event_numbers: Sequence[int] | np.ndarray) -> None:
        self._gens = [np.random.default_rng([seed, key, int(e)]) for e in event_numbers]

    def __len__(self) -> int:
        return len(self._gens)

    def _draw(self, counts: np.ndarray, width: int, normal: bool) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.int64)
        if len(counts) != len(self._gens):
            raise ValueError(f"{len(counts)} counts for {len(self._gens)} events")
        out = np.empty((int(counts.sum()), width), dtype=np.float64)
        pos = 0
        for gen, c in zip(self._gens, counts.tolist(), strict=True):
            if c:
                block = out[pos : pos + c]
                if normal:
                    block[:] = gen.standard_normal((c, width))
                else:
                    block[:] = gen.random((c, width))
                pos += c
        return out

    def uniform(self, counts: np.ndarray, width: int = 1) -> np.ndarray:
        """``(sum(counts), width)`` uniforms in [0, 1): ``counts[i]`` rows from event i."""
        return self._draw(counts, width, normal=False)

    def normal(self, counts: np.ndarray, width: int = 1) -> np.ndarray:
        """``(sum(counts), width)`` standard normals: ``counts[i]`` rows from event i."""
        return self._draw(counts, width, normal=True)
