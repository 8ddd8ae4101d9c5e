"""Fixtures and helpers of the HTCondor tests (imported into conftest.py).

The pool is real (devtools/condor_pool.py, development tooling outside the
package, on eventlens.condor.pool's layout): started once per session when it is
not running already, stopped at the end only if this session started it.  If
it cannot be set up on a machine the tests are *skipped with the reason*;
``EVENTLENS_REQUIRE_CONDOR=1`` turns that skip into a failure.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def condor_pool() -> Iterator[Any]:
    """A running personal HTCondor pool on 127.0.0.1, or a skip that says why."""
    from devtools.condor_pool import PoolManager

    pool = PoolManager.default()
    started = False
    if not pool.is_running():
        try:
            t0 = time.monotonic()
            pool.start()
            started = True
            log.info("personal pool started for the tests in %.1f s", time.monotonic() - t0)
        except Exception as exc:
            reason = f"personal HTCondor pool could not be started in {pool.prefix}: {exc}"
            if os.environ.get("EVENTLENS_REQUIRE_CONDOR") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
    else:
        pool.ensure_token()
    try:  # the job user must be able to run this checkout's environment
        from eventlens.condor import settings
        from eventlens.condor.access import Identity
        from eventlens.condor.worker_env import resolve

        resolve(settings.load().worker, Identity.of_user(pool.job_user.name))
    except Exception as exc:
        if started:
            pool.stop()
        reason = f"HTCondor jobs cannot run this environment: {exc}"
        if os.environ.get("EVENTLENS_REQUIRE_CONDOR") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    yield pool
    if started:
        pool.stop()


@pytest.fixture(scope="session")
def condor_tmp() -> Iterator[Path]:
    """A scratch folder the job user can traverse (pytest's own tmp is mode 700)."""
    path = Path(tempfile.mkdtemp(prefix="eventlens-condor-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def public_nanoaod(nanoaod_dir, condor_tmp) -> Path:
    """The real NanoAOD files, where the job user can read them (they are already public)."""
    from eventlens.condor.access import Identity, problem

    who = Identity.of_user("nobody")
    if problem(nanoaod_dir / "nano_dy.root", who, "r") is None:
        return nanoaod_dir
    copy = condor_tmp / "nanoaod"
    shutil.copytree(nanoaod_dir, copy)  # the files (links followed); copytree copies the
    copy.chmod(0o755)  # source folder's mode too, and pytest's tmp folders are mode 700
    return copy


def real_fileset(d: Path) -> dict[str, Any]:
    """Data, DY (+ an empty file) and tt̄: every kind of real file, as in test_processors_real."""
    return {
        "DoubleMuon2018": [str(d / "nano_dimuon.root")],
        "dy": {
            "files": {str(d / "nano_dy.root"): "Events", str(d / "nano_dy_empty.root"): "Events"},
            "metadata": {"process": "dy", "xsec": 6077.22},
        },
        "ttbar": {
            "files": {str(d / "nano_tt_v12.root"): "Events"},
            "metadata": {"process": "ttbar", "xsec": 833.9},
        },
    }


def canonical(obj: Any) -> Any:
    """A plain, order-free form of a coffea output for exact comparison.

    Growth category axes (``StrCat``/``IntCat``) list their categories in the
    order chunks arrived, which differs between executors; the contents of
    each category, and every other number, are compared exactly.
    """
    import hist

    if isinstance(obj, hist.Hist):
        return _hist_cells(obj)
    if isinstance(obj, Mapping):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (set, frozenset)):
        return sorted((canonical(v) for v in obj), key=repr)
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _hist_cells(h: Any) -> dict[str, Any]:
    import hist

    cat_axes = [
        ax for ax in h.axes if isinstance(ax, (hist.axis.StrCategory, hist.axis.IntCategory))
    ]
    cells: dict[str, Any] = {}

    def walk(sub: Any, axes: list[Any], key: tuple[Any, ...]) -> None:
        if not axes:
            if not hasattr(sub, "view"):  # every axis was a category: a single bin
                cells[repr(key)] = repr(sub)
                return
            view = sub.view(flow=True)
            if view.dtype.names:  # Weight storage: value and variance
                cells[repr(key)] = {n: np.asarray(view[n]).tolist() for n in view.dtype.names}
            else:
                cells[repr(key)] = np.asarray(view).tolist()
            return
        ax = axes[0]
        for cat in sorted(ax, key=repr):
            walk(sub[{ax.name: hist.loc(cat)}], axes[1:], (*key, cat))

    walk(h, cat_axes, ())
    others = [repr(ax) for ax in h.axes if ax not in cat_axes]
    return {"axes": others, "cells": cells}
