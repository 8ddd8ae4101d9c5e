"""Quiet, checked Pythia 8 instances that hand out batches of events as awkward arrays.

Why the care:
- ``pythia8mc.Pythia()`` prints a 44-line banner; ``Pythia("", False)`` does not,
  and everything Pythia still writes on stdout is captured and logged at DEBUG.
- A setting Pythia does not know makes ``readString`` return False and then
  ``init()`` fail, after which every ``next()`` fails *silently*: each return
  value is checked and turned into an error that names the setting.
- Several instances (e.g. the two charge conjugates of semileptonic tt̄) are
  used alternately event by event, so the event sequence does not depend on
  the batch size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from ..errors import ConfigError, EventLensError
from ._quiet import capture_stdout
from .registry import Process, RapidityVeto

log = logging.getLogger(__name__)

#: Pythia reports cross-sections in mb.
MB_TO_PB = 1e9

#: Tries of ``nextBatch`` in a row that may return no event before we give up.
_MAX_EMPTY_BATCHES = 5


class PythiaError(EventLensError):
    """Pythia rejected a setting, failed to initialise or stopped producing events."""


@dataclass(frozen=True)
class CrossSection:
    """Pythia's estimate of the generated cross-section (sum over instances)."""

    sigma_pb: float
    error_pb: float
    n_tried: int
    n_accepted: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "xsec_pb": self.sigma_pb,
            "xsec_err_pb": self.error_pb,
            "n_tried": self.n_tried,
            "n_accepted": self.n_accepted,
        }

    @staticmethod
    def combine(parts: Sequence[CrossSection]) -> CrossSection:
        """Combine independent estimates of the *same* cross-section (e.g. chunks).

        Pythia's ``sigmaGen`` is an accept-rate estimate, so the estimates are
        weighted by their number of tries; the error follows from the weights.
        """
        tried = sum(p.n_tried for p in parts)
        if not parts or tried == 0:
            return CrossSection(0.0, 0.0, 0, 0)
        sigma = sum(p.sigma_pb * p.n_tried for p in parts) / tried
        error = float(np.sqrt(sum((p.error_pb * p.n_tried) ** 2 for p in parts))) / tried
        return CrossSection(sigma, error, tried, sum(p.n_accepted for p in parts))


def pythia_messages(pythia: Any) -> list[str]:
    """Pythia's error/warning summary (``stat()``), one string per message.

    With ``Print:quiet`` Pythia prints nothing when ``init()`` fails; its
    message statistics still say why (e.g. "all processes have vanishing
    cross sections").
    """
    with capture_stdout() as out:
        pythia.stat()
    messages, inside = [], False
    for line in out.lines():
        if "Error and Warning Messages Statistics" in line:
            inside = "End PYTHIA" not in line
            continue
        text = line.strip().strip("|").strip()
        if inside and text and not text.startswith("times"):
            count, _, message = text.partition(" ")
            if count.isdigit() and message.strip():
                messages.append(f"{message.strip()} (x{count})")
    return messages


def _make_veto_hook(veto: RapidityVeto) -> Any:
    """A ``UserHooks`` that rejects hard processes outside the rapidity window.

    It runs at process level, before MPI and hadronisation (about 90 % of the
    CPU time), so rejected events cost almost nothing, and Pythia's sigma
    estimate already accounts for the rejection.
    """
    import pythia8mc

    wanted = None if veto.particles is None else frozenset(veto.particles)

    class RapidityVetoHook(pythia8mc.UserHooks):
        def __init__(self) -> None:
            pythia8mc.UserHooks.__init__(self)

        def canVetoProcessLevel(self) -> bool:
            return True

        def doVetoProcessLevel(self, process: Any) -> bool:
            for i in range(process.size()):
                p = process[i]
                status = abs(p.status())
                if status not in (22, 23):
                    continue
                pid = abs(p.id())
                if (pid > 100) if wanted is None else (pid in wanted):
                    return abs(p.y()) > veto.max_abs_y
            return False

    return RapidityVetoHook()


class PythiaSource:
    """The event source for one process: one initialised Pythia per instance."""

    def __init__(
        self,
        process: Process,
        base_settings: Sequence[str],
        seeds: Sequence[int],
        mpi: bool = True,
        registry_path: str = "",
    ) -> None:
        if len(seeds) != len(process.instances):
            raise ValueError(f"{len(seeds)} seeds for {len(process.instances)} instances")
        import pythia8mc

        self.process = process
        self._pythias: list[Any] = []
        self._hooks: list[Any] = []  # keep Python hook objects alive as long as Pythia
        self._produced = 0
        self._charge_cache: dict[int, float] = {}
        where = f" (registry {registry_path})" if registry_path else ""
        for i, (instance, seed) in enumerate(zip(process.instances, seeds, strict=True)):
            settings = [
                "Print:quiet = on",
                *base_settings,
                *instance,
                "Random:setSeed = on",
                f"Random:seed = {int(seed)}",
            ]
            if not mpi:
                settings.append("PartonLevel:MPI = off")
            with capture_stdout() as out:
                pythia = pythia8mc.Pythia("", False)
                bad = [s for s in settings if not pythia.readString(s)]
            if bad:
                said = " | ".join(out.lines())
                raise ConfigError(
                    f"process {process.name!r}: Pythia rejected setting(s) {bad}{where}; "
                    "check the spelling against the Pythia 8.3 manual"
                    + (f" (Pythia said: {said})" if said else "")
                )
            if process.rapidity_veto is not None:
                hook = _make_veto_hook(process.rapidity_veto)
                self._hooks.append(hook)
                pythia.setUserHooksPtr(hook)
            with capture_stdout() as out:
                ok = pythia.init()
            for line in out.lines():
                log.debug("pythia[%s/%d]: %s", process.name, i, line)
            if not ok:
                said = pythia_messages(pythia) or out.lines()[-5:]
                raise PythiaError(
                    f"process {process.name!r}: Pythia init() failed{where}; "
                    f"Pythia said: {' | '.join(said) or '(nothing)'}"
                )
            self._pythias.append(pythia)

    @property
    def n_instances(self) -> int:
        return len(self._pythias)

    def _from_instance(self, i: int, n: int) -> ak.Array:
        parts = []
        got = empty = 0
        while got < n:
            with capture_stdout() as out:
                batch = self._pythias[i].nextBatch(n - got, "skip")
            for line in out.lines():
                log.debug("pythia[%s/%d]: %s", self.process.name, i, line)
            k = 0 if batch is None else len(batch)
            if k == 0:
                empty += 1
                if empty >= _MAX_EMPTY_BATCHES:
                    raise PythiaError(
                        f"process {self.process.name!r}: Pythia stopped producing events "
                        f"({got} of {n} in this batch); rerun with -v to see its messages"
                    )
                continue
            empty = 0
            parts.append(batch)
            got += k
        return parts[0] if len(parts) == 1 else ak.concatenate(parts)

    def next_batch(self, n: int) -> ak.Array:
        """The next ``n`` events (fields ``prt`` and ``info``), instances interleaved."""
        k = self.n_instances
        if k == 1:
            out = self._from_instance(0, n)
        else:
            slots = (self._produced + np.arange(n)) % k
            wanted = [int((slots == i).sum()) for i in range(k)]
            pieces = [self._from_instance(i, m) for i, m in enumerate(wanted) if m]
            merged = pieces[0] if len(pieces) == 1 else ak.concatenate(pieces)
            # position of event j within the concatenation: instance block start + rank
            starts = np.cumsum([0, *wanted])[:-1]
            rank = np.zeros(n, dtype=np.int64)
            for i in range(k):
                sel = slots == i
                rank[sel] = np.arange(int(sel.sum()))
            out = merged[starts[slots] + rank]
        self._produced += n
        return out

    def charges(self, pdg_ids: np.ndarray) -> np.ndarray:
        """Electric charge (units of e) for an array of pdgIds, from Pythia's particle data."""
        uniq, inverse = np.unique(pdg_ids, return_inverse=True)
        data = self._pythias[0].particleData
        values = np.empty(len(uniq), dtype=np.float64)
        for j, pid in enumerate(uniq.tolist()):
            if pid not in self._charge_cache:
                self._charge_cache[pid] = float(data.charge(pid))
            values[j] = self._charge_cache[pid]
        return values[inverse]

    def messages(self) -> list[str]:
        """Pythia's error/warning summaries of all instances (for the DEBUG log)."""
        return [m for pythia in self._pythias for m in pythia_messages(pythia)]

    def cross_section(self) -> CrossSection:
        """Sum of the instances' cross-sections (they are disjoint channels of one process)."""
        sigma = err2 = 0.0
        tried = accepted = 0
        for pythia in self._pythias:
            info = pythia.infoPython()
            sigma += info.sigmaGen() * MB_TO_PB
            err2 += (info.sigmaErr() * MB_TO_PB) ** 2
            tried += int(info.nTried())
            accepted += int(info.nAccepted())
        return CrossSection(sigma, float(np.sqrt(err2)), tried, accepted)
