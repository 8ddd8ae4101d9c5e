"""The histogram contract between an analysis run and the statistics tools.

An ``infer`` run (the pipeline's finish step) writes, and ``eventlens fit OUT``
reads, exactly one file: ``OUT/histograms.json`` (:data:`HISTOGRAMS`).  It is
data only — JSON with the histograms serialised by ``uhi.io.json`` — so reading
it runs no code (results are never unpickled).  Layout::

    {
      "format": "eventlens-histograms",          # FORMAT
      "version": 1,                              # VERSION
      "task": "dtw",                             # or null
      "luminosity_pb": 1000.0,                   # the luminosity the MC is weighted to, or null
      "real_data": false,                        # true: "data" is collision data, not pseudo-data
      "processes": {                             # one entry per category of the process axis
        "ttbar": {"label": "tt̄", "xsec_pb": 832.0, "signal": true,  "data": false},
        "dy":    {"label": "DY",  "xsec_pb": 6077.0, "signal": false, "data": false},
        "data":  {"label": "Pseudo-data", "xsec_pb": null, "signal": false, "data": true}
      },
      "histograms": {                            # name -> uhi.io.json serialisation of a hist.Hist
        "mass":  {"uhi_schema": 1, "axes": [...], "storage": {...}},
        "score": {...}
      }
    }

Every histogram has the axes, in this order (checked by :func:`check_contract`):

1. ``StrCategory`` named ``process`` — the dataset's process name, real or
   pseudo-data as ``data``;
2. ``StrCategory`` named ``region`` — the predicted class name (a task may split
   it further, e.g. ``ttbar_2b``);
3. ``StrCategory`` named ``variation`` — ``nominal``, ``<syst>Up``, ``<syst>Down``
   (a systematic that does not act on a process is left unfilled for it: all
   zero; data has only ``nominal``);
4. one observable axis (``Regular`` or ``Variable``), e.g. ``mass`` or ``score``;

with ``Weight()`` storage (sum of weights and sum of squared weights: the MC
statistical uncertainty).  A process without an entry in ``processes`` is
treated as simulation, background, no cross-section — except one named
``data``, which is data.

Writing it from the pipeline::

    from eventlens.stats.io import HistogramSet, ProcessInfo, write_histograms
    hset = HistogramSet(hists, {"dy": ProcessInfo("Drell-Yan", 6077.0), ...},
                        luminosity_pb=cfg.luminosity_pb, task=task.name)
    write_histograms(out_dir / HISTOGRAMS, hset)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import hist

from ..errors import InputFileError
from ..io import atomic_path

HISTOGRAMS = "histograms.json"
FORMAT = "eventlens-histograms"
VERSION = 1
#: Names of the three category axes, in order; the fourth axis is the observable.
CATEGORY_AXES = ("process", "region", "variation")
NOMINAL = "nominal"
DATA = "data"


@dataclass(frozen=True)
class ProcessInfo:
    """What the run knows about one process (one category of the ``process`` axis).

    ``xsec_pb`` is the cross-section the simulation was normalised with (for
    the record: the histograms are already weighted to ``luminosity_pb``);
    ``signal`` marks the default signal of a fit; ``data`` marks (pseudo-)data.
    """

    label: str = ""
    xsec_pb: float | None = None
    signal: bool = False
    data: bool = False


@dataclass
class HistogramSet:
    """Contract histograms plus the per-process metadata of one run."""

    histograms: dict[str, hist.Hist]
    processes: dict[str, ProcessInfo] = field(default_factory=dict)
    luminosity_pb: float | None = None
    task: str | None = None
    real_data: bool = False

    def info(self, process: str) -> ProcessInfo:
        """Metadata of ``process`` (defaults when the run stored none; see module docstring)."""
        if process in self.processes:
            return self.processes[process]
        return ProcessInfo(label=process, data=process == DATA)

    def label(self, process: str) -> str:
        return self.info(process).label or process


def check_contract(h: Any, name: str, source: str = "histograms") -> None:
    """Raise :class:`InputFileError` unless ``h`` has the contract's axes and storage."""
    where = f"{source}: histogram {name!r}"
    if not isinstance(h, hist.Hist):
        raise InputFileError(f"{where} is a {type(h).__name__}, not a hist.Hist")
    names = [ax.name for ax in h.axes]
    if h.ndim != 4 or tuple(names[:3]) != CATEGORY_AXES:
        raise InputFileError(
            f"{where} has axes {names}; the contract is "
            f"{list(CATEGORY_AXES)} + one observable (see eventlens.stats.io)"
        )
    for ax in h.axes[:3]:
        if not isinstance(ax, hist.axis.StrCategory):
            raise InputFileError(f"{where}: axis {ax.name!r} must be a StrCategory")
    if not isinstance(h.axes[3], hist.axis.Regular | hist.axis.Variable):
        raise InputFileError(
            f"{where}: the observable axis {names[3]!r} must be Regular or Variable, "
            f"got {type(h.axes[3]).__name__}"
        )
    if h.storage_type is not hist.storage.Weight:
        raise InputFileError(
            f"{where} has {h.storage_type.__name__} storage; the contract needs Weight() "
            "(sums of squared weights give the MC statistical uncertainty)"
        )


def write_histograms(path: str | Path, hset: HistogramSet) -> Path:
    """Write ``hset`` as :data:`HISTOGRAMS` JSON (atomically), checking the contract first."""
    import uhi.io.json

    for name, h in hset.histograms.items():
        check_contract(h, name)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "task": hset.task,
        "luminosity_pb": hset.luminosity_pb,
        "real_data": hset.real_data,
        "processes": {k: asdict(v) for k, v in hset.processes.items()},
        "histograms": hset.histograms,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, default=uhi.io.json.default) + "\n")
    return path


def read_histograms(path: str | Path) -> HistogramSet:
    """Read a :data:`HISTOGRAMS` file (data only), checking format, version and contract."""
    import uhi.io.json

    path = Path(path)
    if path.is_dir():
        path = path / HISTOGRAMS
    try:
        doc = json.loads(path.read_text(), object_hook=uhi.io.json.object_hook)
    except FileNotFoundError:
        raise InputFileError(
            f"{path}: no such file (an infer run writes {HISTOGRAMS}; see eventlens.stats.io)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: not a JSON histogram file ({exc})") from exc
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise InputFileError(f"{path}: not an eventlens histogram file (format != {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise InputFileError(
            f"{path}: histogram file version {doc.get('version')!r}, this eventlens reads {VERSION}"
        )
    hists: dict[str, hist.Hist] = {}
    for name, data in (doc.get("histograms") or {}).items():
        try:
            hists[name] = hist.Hist(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise InputFileError(f"{path}: histogram {name!r} cannot be read ({exc})") from exc
        check_contract(hists[name], name, str(path))
    if not hists:
        raise InputFileError(f"{path}: holds no histograms")
    processes = {}
    for proc, meta in (doc.get("processes") or {}).items():
        unknown = set(meta) - {"label", "xsec_pb", "signal", "data"}
        if unknown:
            raise InputFileError(f"{path}: process {proc!r} has unknown key {sorted(unknown)[0]!r}")
        processes[proc] = ProcessInfo(**meta)
    return HistogramSet(
        hists,
        processes,
        luminosity_pb=doc.get("luminosity_pb"),
        task=doc.get("task"),
        real_data=bool(doc.get("real_data", False)),
    )
