"""eventlens on a real HTCondor pool (the personal pool of condor/pool.sh on 127.0.0.1).

* batch mode (real condor_submit path through the bindings, real jobs as the
  unprivileged job user) merged == the Iterative executor, exactly;
* Dask mode (dask-jobqueue HTCondorCluster, 2 workers) == Iterative, exactly;
* a worker job killed mid-run is survived (its chunks re-run), a failed batch
  job is named by merge, and a pool/schedd/worker failure is a clear error in
  bounded time.

Skipped, with the reason, when the pool cannot be set up on the machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time

import cloudpickle
import pytest
from coffea.processor import ProcessorABC

from condor_support import canonical, real_fileset

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore:Missing cross-reference index:RuntimeWarning",
        "ignore:Branch Photon_mass already exists:RuntimeWarning",
        "ignore:Port 8787 is already in use:UserWarning",
    ),
]

TASK, CHUNK = "dimuon", 50  # 50 events per chunk: the 200-event tt̄ file becomes 4 chunks


def task_processor():
    """The task's plain coffea processor (no tables) and the Runner options the pipeline uses."""
    from eventlens.processors.base import TaskProcessor
    from eventlens.processors.inputs import needs_of
    from eventlens.processors.registry import get_task, load_config

    cfg = load_config(TASK)
    options = {"iteritems_options": {"filter_name": needs_of(cfg).filter_names()}}
    return TaskProcessor(get_task(TASK), cfg, None), options


def iterative(fileset, chunksize=CHUNK):
    from coffea import processor

    proc, options = task_processor()
    r = processor.Runner(processor.IterativeExecutor(status=False), chunksize=chunksize)
    return r(fileset, proc, treename="Events", **options)


@pytest.fixture(scope="module")
def settings(condor_pool, condor_tmp):
    from eventlens.condor import settings as s

    cfg = s.load()
    cfg = dataclasses.replace(cfg, runtime_dir=str(condor_tmp / "runtime"))
    return cfg.replace("worker", memory="1GB", start_timeout=120.0).replace(
        "batch", request_memory="1GB"
    )


@pytest.fixture(scope="module")
def reference(public_nanoaod, condor_tmp):
    """``eventlens select`` with the Iterative executor on the real files (tables included)."""
    from eventlens.pipeline.finish import read_hists
    from eventlens.pipeline.select import run_selection

    out = condor_tmp / "reference"
    run_selection(TASK, real_fileset(public_nanoaod), out, chunksize=CHUNK, status=False)
    return out, read_hists(out)


def same_run(out, reference):
    """Two selection folders hold the same results: histograms and cutflow exactly, tables."""
    from eventlens.pipeline.finish import read_hists
    from eventlens.pipeline.table import load_table

    ref_dir, ref = reference
    got = read_hists(out)
    assert canonical(got) == canonical(ref)
    assert load_table(out).to_list() == load_table(ref_dir).to_list()
    assert (
        json.loads((out / "manifest.json").read_text())["files"]
        == json.loads((ref_dir / "manifest.json").read_text())["files"]
    )


def test_batch_equals_iterative(condor_pool, condor_tmp, public_nanoaod, settings, reference):
    """``eventlens select --executor batch``: 3 jobs over 6 chunks of real NanoAOD (data, DY +
    an empty file, tt̄); the jobs write JSON, the finish step is the pipeline's."""
    from eventlens.pipeline.select import run_selection

    out = condor_tmp / "batch"
    t0 = time.monotonic()
    run_selection(
        TASK,
        real_fileset(public_nanoaod),
        out,
        executor="batch",
        workers=3,
        chunksize=CHUNK,
        status=False,
        condor_settings=settings,
    )
    print(f"batch: 3 jobs submit->merged {time.monotonic() - t0:.1f} s")
    jobs = sorted(p.name for p in (out / "batch" / "jobs").iterdir() if p.is_dir())
    assert jobs == ["job-000", "job-001", "job-002"]
    assert all((out / "batch" / "jobs" / j / "done.json").exists() for j in jobs)
    same_run(out, reference)


def test_htcondor_cluster_equals_iterative(
    condor_pool, condor_tmp, public_nanoaod, reference, settings
):
    """``eventlens select --executor condor``: coffea's DaskExecutor on 2 HTCondorCluster
    workers (jobs as the job user), which write the chunk results and tables themselves."""
    from eventlens.pipeline.select import run_selection

    out = condor_tmp / "dask"
    t0 = time.monotonic()
    run_selection(
        TASK,
        real_fileset(public_nanoaod),
        out,
        executor="condor",
        workers=2,
        chunksize=CHUNK,
        status=False,
        condor_settings=settings,
    )
    print(f"dask: run with 2 HTCondor workers {time.monotonic() - t0:.1f} s")
    same_run(out, reference)


class Slow(ProcessorABC):
    """Wraps a processor and sleeps per chunk, so that a worker can be killed mid-run."""

    def __init__(self, inner, seconds):
        self.inner, self.seconds = inner, seconds

    def process(self, events):
        time.sleep(self.seconds)
        return self.inner.process(events)

    def postprocess(self, acc):
        return self.inner.postprocess(acc)


def test_killed_worker_job_is_survived(condor_pool, public_nanoaod, settings):
    """SIGKILL one worker job's processes mid-run: its chunks re-run, the output is still exact."""
    from coffea import processor

    from eventlens.condor.cluster import condor_executor

    fileset = real_fileset(public_nanoaod)
    proc, options = task_processor()
    chunk = 20  # 17 chunks, ~0.5 s each
    ref = iterative(fileset, chunksize=chunk)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    result, error = {}, []
    with condor_executor(2, status=False, settings=settings) as ex:
        client = ex.client

        def go():
            try:
                result["out"] = processor.Runner(ex, chunksize=chunk)(
                    fileset, Slow(proc, 0.5), treename="Events", **options
                )
            except Exception as exc:  # reported by the assertion below
                error.append(exc)

        thread = threading.Thread(target=go)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _busy(client):
            time.sleep(0.2)
        victim, pids = next(iter(client.run(lambda: (os.getpid(), os.getppid())).items()))
        for pid in pids:  # the worker and its nanny: the job's python processes
            os.kill(pid, signal.SIGKILL)
        print(f"killed worker {victim} (pids {pids})")
        thread.join(timeout=180)
        assert not thread.is_alive(), "the run did not finish after a worker was killed"
    assert not error, error
    assert canonical(result["out"]) == canonical(ref)


def _busy(client):
    info = client.processing()
    return sum(len(v) for v in info.values()) > 0


def test_failed_batch_job_is_named_by_merge(condor_pool, condor_tmp, public_nanoaod, settings):
    from eventlens.condor import batch, merge
    from eventlens.pipeline.run import RunOptions, prepare
    from eventlens.pipeline.select import selection_spec

    out = condor_tmp / "batch-broken"
    spec = selection_spec(TASK)
    prepared = prepare(spec, real_fileset(public_nanoaod), out, RunOptions(chunksize=100))
    b = batch.prepare(prepared.staging, prepared.todo, 2, spec)
    (b.job_dir("job-001") / "job.json").write_text("{not json")  # this job will fail
    cfg = settings.replace("batch", max_retries=0)
    try:
        batch.submit(b, cfg)
        states = batch.wait(b, cfg, timeout=240)
    finally:
        batch.remove(b, cfg)
    assert states["job-001"].get("exit_code") == 1, states
    with pytest.raises(
        merge.MergeError, match=r"1 of 2 job\(s\).*job-001: failed: JSONDecodeError"
    ):
        merge.merge(out)


def test_wrong_schedd_and_unreachable_pool_fail_fast(condor_pool, settings):
    from eventlens.condor import schedd as sd
    from eventlens.condor.cluster import condor_client

    t0 = time.monotonic()
    wrong = settings.replace("pool", schedd="no-such-schedd")
    with (
        pytest.raises(sd.PoolUnavailableError, match=r"schedd 'no-such-schedd' not found"),
        condor_client(1, wrong),
    ):
        pass
    target = sd.resolve_target(settings.pool)
    dead = dataclasses.replace(target, env={**target.env, "_CONDOR_COLLECTOR_HOST": "127.0.0.1:9"})
    with sd.activated(dead), pytest.raises(sd.PoolUnavailableError, match="not reachable"):
        sd.check_reachable(dead, 5)
    assert time.monotonic() - t0 < 30


def test_pool_has_slots_for_two_workers_whatever_the_environment(condor_pool, monkeypatch):
    """HTCondor detects as many CPUs as OMP_NUM_THREADS allows: the personal pool must not
    (a pool started from a thread-limited test process once had one slot, and the two
    dask workers of the tests above waited for each other)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    got = condor_pool.run_tool(["condor_config_val", "NUM_CPUS"]).stdout.strip()
    assert int(got) >= 2, got
    cpus = sum(float(line.split()[2]) for line in condor_pool.slots())
    assert cpus >= 2, condor_pool.slots()


def test_workers_that_never_start_are_reported(condor_pool, settings):
    """Jobs no slot can match stay idle: a bounded wait, then the jobs' state, and cleanup."""
    from eventlens.condor.cluster import WorkerStartError, condor_client

    cfg = settings.replace(
        "worker", start_timeout=12.0, job_extra_directives={"requirements": "(Memory > 100000000)"}
    )
    t0 = time.monotonic()
    with (
        pytest.raises(
            WorkerStartError,
            match=r"0 of 1 dask worker\(s\) connected .*idle.*the pool advertises \d+ slot",
        ),
        condor_client(1, cfg),
    ):
        pass
    assert time.monotonic() - t0 < 45
    from eventlens.condor import schedd as sd

    target = sd.resolve_target(cfg.pool)
    with sd.activated(target):
        queued = sd.schedd(target).query(
            constraint='JobBatchName =?= "dask-worker"', projection=["ClusterId", "JobStatus"]
        )
    assert [q for q in queued if q["JobStatus"] in (1, 2)] == []


def test_batch_on_generated_files_equals_iterative(
    condor_pool, condor_tmp, generated_sample, settings
):
    """Files written by eventlens' own generator (Pythia 8 J/ψ and Z → μμ), 2 batch jobs,
    submitted without waiting (``condor-submit``), then ``eventlens merge``."""
    import shutil

    from eventlens.condor import batch, merge
    from eventlens.pipeline.finish import read_hists
    from eventlens.pipeline.run import PendingRun
    from eventlens.pipeline.select import run_selection

    public = condor_tmp / "generated"
    public.mkdir(mode=0o755, exist_ok=True)
    fileset = {}
    for process in ("jpsi", "dy"):
        path = public / f"{process}.root"
        shutil.copy(generated_sample(process, 120), path)
        fileset[process] = {
            "files": {str(path): "Events"},
            "metadata": {"process": process, "xsec": 1.0},
        }
    ref = condor_tmp / "generated-reference"
    run_selection(TASK, fileset, ref, chunksize=CHUNK, status=False)
    out = condor_tmp / "batch-generated"
    pending = run_selection(
        TASK,
        fileset,
        out,
        executor="batch",
        workers=2,
        chunksize=CHUNK,
        status=False,
        wait=False,
        condor_settings=settings,
    )
    assert isinstance(pending, PendingRun)
    b = batch.Batch.open(pending.staging / "batch")
    try:
        states = batch.wait(b, settings, timeout=240)
    finally:
        batch.remove(b, settings)
    assert all(s["status"] == "completed" for s in states.values()), states
    merged = merge.merge(out)
    assert canonical(read_hists(out)) == canonical(read_hists(ref))
    assert sum(cf["read"] for cf in merged.cutflow.values()) == 240
