"""HTCondor helpers that need no pool: path checks, splitting, config, submit file, merge."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eventlens.condor import chunks
from eventlens.condor.access import Identity, JobAccessError, Need, check, problem
from eventlens.errors import ConfigError

NOBODY = Identity.of_user("nobody")

pytestmark = pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create files owned by someone else")
def test_access_names_the_blocking_path(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    f = private / "input.root"
    f.write_bytes(b"x")
    why = problem(f, NOBODY, "r")
    assert why is not None
    assert "is not traversable by nobody" in why
    with pytest.raises(
        JobAccessError, match=r"input file: .*(pytest-of-root|private).* not traversable"
    ):
        check([Need(f, "input file")], NOBODY)


def test_access_follows_symlinks_and_modes(tmp_path):
    base = Path("/tmp") / f"eventlens-access-{os.getpid()}"
    base.mkdir(mode=0o755)
    try:
        base.chmod(0o755)
        secret = base / "secret"
        secret.mkdir(mode=0o700)
        secret.chmod(0o700)
        target = secret / "python"
        target.write_text("#!/bin/sh\n")
        target.chmod(0o755)
        link = base / "python"
        link.symlink_to(target)
        if os.geteuid() == 0:
            assert "secret" in problem(link, NOBODY, "x")
        ok = base / "ok.txt"
        ok.write_text("x")
        ok.chmod(0o644)
        assert problem(ok, NOBODY, "r") is None
        assert "not writable" in problem(ok, NOBODY, "w")
        assert "does not exist" in problem(base / "nope", NOBODY, "r")
    finally:
        import shutil

        shutil.rmtree(base)


def _items(sizes):
    return [
        {"dataset": "d", "filename": f"f{i}", "entrystart": 0, "entrystop": n}
        for i, n in enumerate(sizes)
    ]


@pytest.mark.parametrize(
    ("sizes", "jobs", "expect"),
    [
        ([40, 40, 200], 2, [[40, 40], [200]]),
        ([40, 40, 200], 5, [[40], [40], [200]]),  # never an empty job
        ([10] * 6, 3, [[10, 10], [10, 10], [10, 10]]),
        ([1, 1, 1, 100], 2, [[1, 1, 1], [100]]),
    ],
)
def test_split_is_contiguous_and_complete(sizes, jobs, expect):
    groups = chunks.split(_items(sizes), jobs)
    assert [[c["entrystop"] for c in g] for g in groups] == expect
    assert [c for g in groups for c in g] == _items(sizes)  # order kept, nothing lost


def test_work_item_json_roundtrip():
    from coffea.processor.executor import WorkItem

    item = WorkItem("dy", "/x/a.root", "Events", 10, 20, b"\x01" * 16, {"xsec": 1.0}, None)
    assert chunks.from_json(json.loads(json.dumps(chunks.to_json(item)))) == item


def test_settings_reject_unknown_keys(tmp_path):
    from eventlens.condor import settings

    p = tmp_path / "condor.yaml"
    p.write_text("worker:\n  memroy: 2GB\n")
    with pytest.raises(ConfigError, match=r"unknown key 'worker.memroy'"):
        settings.load(p)
    p.write_text("pool:\n  use: cloud\n")
    with pytest.raises(ConfigError, match=r"pool\.use"):
        settings.load(p)
    default = settings.load()
    assert default.worker.cores >= 1 and default.pool.use == "auto"
    assert default.replace("worker", memory="3GB", cores=None).worker.memory == "3GB"


def test_submit_description_renders(tmp_path):
    from eventlens.condor import batch, settings

    b = batch.Batch(tmp_path, {"jobs": [{"name": "job-000", "chunks": []}]})
    cfg = settings.load().replace("batch", request_memory="1GB")
    text = batch.render(b, cfg, "/opt/py/bin/python", {"PYTHONNOUSERSITE": "1"})
    assert f"initialdir            = {tmp_path}/jobs/$(job)" in text
    assert "request_memory        = 1GB" in text
    assert f"queue job from {tmp_path}/jobs.txt" in text
    assert "@{" not in text


def test_merge_names_missing_and_failed_jobs(tmp_path, nanoaod_dir):
    """Run two of three jobs in-process; merge must refuse and name the third."""
    from eventlens.condor import batch, job, merge

    fs = {"dy": [str(nanoaod_dir / "nano_dy.root")], "tt": [str(nanoaod_dir / "nano_tt_v12.root")]}
    b = batch.prepare(tmp_path / "b", fs, CountingProcessor(), jobs=3, chunksize=100)
    assert [j["name"] for j in b.jobs] == ["job-000", "job-001", "job-002"]
    for j in b.jobs[:2]:
        assert job.main([str(b.job_dir(j["name"]))]) == 0
    with pytest.raises(merge.MergeError, match=r"1 of 3 job\(s\).*job-002: no output.coffea"):
        merge.merge(b.outdir)
    (b.job_dir("job-002") / "job.json").write_text("{broken")
    assert job.main([str(b.job_dir("job-002"))]) == 1
    with pytest.raises(merge.MergeError, match=r"job-002: failed: JSONDecodeError"):
        merge.merge(b.outdir)
    assert not (b.outdir / "merged.coffea").exists()
    # a job that silently skipped a chunk is caught too
    from coffea.util import load, save

    out = load(b.job_dir("job-001") / "output.coffea")
    out["processed"] = out["processed"][:-1]
    save(out, b.job_dir("job-001") / "output.coffea")
    (b.job_dir("job-002") / "job.json").write_text(
        json.dumps(
            {
                "name": "job-002",
                "chunks": b.jobs[2]["chunks"],
                "chunksize": 100,
                "processor": str(b.outdir / "processor.coffea"),
            }
        )
    )
    assert job.main([str(b.job_dir("job-002"))]) == 0
    with pytest.raises(merge.MergeError, match=r"job-001: incomplete: 1 chunk\(s\) missing"):
        merge.merge(b.outdir)


class CountingProcessor:
    """The smallest processor: events read per dataset (importable, so it pickles by reference)."""

    def process(self, events):
        ds = events.metadata["dataset"]
        return {"cutflow": {ds: {"read": len(events)}}}

    def postprocess(self, acc):
        return acc
