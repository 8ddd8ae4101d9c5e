"""Build every sample one task needs and describe them in a coffea fileset JSON.

A task (``dimuon``, ``dtw``, ``dhjw``, ``hgg``; see ``tasks`` in the registry)
needs one file per process.  Files already in the folder are reused when the
settings hash stored in them equals the hash of what would be generated now
(process and shared Pythia settings, tune, pileup and its minimum-bias
library, detector parameters, MPI, seed, number of events and chunks,
Pythia/FastJet versions), so tasks sharing a folder share their
common processes (``dy`` serves dimuon, dtw and dhjw) and a rerun after an
interruption only makes what is missing.

The fileset has the form coffea's ``Runner`` takes::

    {"dy": {"files": {"/abs/dy.root": "Events"},
            "metadata": {"process": "dy", "label": ..., "xsec": pb, "sumw": ..., "nevents": ...,
                         "tune": "cp5", "pileup_mu": 0.0, "era": "2018", ...}}}

``xsec`` is the cross-section Pythia measured while generating that file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import EventLensError
from ..io import write_json
from .config import DETECTOR_ERA
from .nanoaod import read_metadata
from .registry import load_registry, settings_hash
from .run import GenerationRequest, generate, sample_settings

log = logging.getLogger(__name__)


def fileset_path(outdir: str | Path, task: str) -> Path:
    """Where ``make-samples TASK -o DIR`` writes its fileset."""
    return Path(outdir) / f"fileset_{task}.json"


def _reusable(path: Path, expected: str) -> tuple[bool, str]:
    if not path.exists():
        return False, "not generated yet"
    try:
        meta = read_metadata(path)
    except EventLensError as exc:
        return False, f"unreadable ({exc})"
    if meta.get("settings_hash") != expected:
        return False, f"settings changed (file {meta.get('settings_hash')}, now {expected})"
    return True, "same settings"


def make_samples(
    task: str,
    events_per_process: int,
    outdir: str | Path,
    template: GenerationRequest | None = None,
    registry_path: Path | None = None,
    events: Mapping[str, int] | None = None,
) -> Path:
    """Generate (or reuse) the samples of ``task`` in ``outdir``; returns the fileset path.

    ``template`` carries the shared options (seed, jobs, MPI, progress...);
    its process, events and output are filled in per process.  ``events``
    overrides ``events_per_process`` for named processes: a selection that
    keeps few events of one process (the lepton + jet DTW selection keeps
    ~11 % of Drell-Yan) needs more of them generated to train on.
    """
    registry = load_registry(registry_path)
    names = registry.task(task)
    events = dict(events or {})
    unknown = sorted(set(events) - set(names))
    if unknown:
        raise EventLensError(
            f"make-samples {task}: --events names {', '.join(unknown)}, not a process of this "
            f"task; its processes are {', '.join(names)}"
        )
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    base = template or GenerationRequest(
        process=names[0], events=events_per_process, seed=1, output=outdir / "unused.root"
    )
    fileset: dict[str, Any] = {}
    for name in names:
        path = (outdir / f"{name}.root").resolve()
        n_events = events.get(name, events_per_process)
        request = replace(
            base,
            process=name,
            events=n_events,
            output=path,
            overwrite=True,
            registry=registry_path,
        )
        request.validate()
        expected = settings_hash(sample_settings(registry, registry.get(name), request))
        reuse, why = _reusable(path, expected)
        if reuse:
            log.info("%s: reusing %s (%s)", name, path, why)
        else:
            log.info("%s: generating %d events into %s (%s)", name, n_events, path, why)
            generate(request)
        meta = read_metadata(path)
        fileset[name] = {
            "files": {str(path): "Events"},
            "metadata": {
                "process": name,
                "label": meta["label"],
                "task": task,
                "xsec": meta["xsec_pb"],
                "xsec_err": meta["xsec_err_pb"],
                "sumw": meta["genEventSumw"],
                "nevents": meta["genEventCount"],
                "settings_hash": meta["settings_hash"],
                "tune": meta.get("tune"),
                "pileup_mu": meta.get("pileup_mu", 0.0),
                "era": DETECTOR_ERA,
            },
        }
    out = fileset_path(outdir, task)
    write_json(out, fileset)
    log.info("%s: %d datasets -> %s", task, len(fileset), out)
    return out
