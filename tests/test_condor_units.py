"""HTCondor helpers that need no pool: path checks, splitting, config, submit file, merge."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eventlens.condor.access import Identity, JobAccessError, Need, check, problem
from eventlens.errors import ConfigError
from eventlens.pipeline import chunks

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
    """Batch jobs run in-process (no pool): merge refuses and names a job that has not run
    or failed, and once every job is done it finishes the run like any executor -- the
    same manifest, cutflow, histograms and tables as the Iterative executor, bit for bit."""
    from eventlens.condor import batch, job, merge
    from eventlens.pipeline.finish import read_hists
    from eventlens.pipeline.run import RunOptions, prepare
    from eventlens.pipeline.select import run_selection, selection_spec
    from eventlens.pipeline.table import load_table

    fs = {
        "dy": {"files": [str(nanoaod_dir / "nano_dy.root")], "metadata": {"xsec": 1.0}},
        "tt": [str(nanoaod_dir / "nano_tt_v12.root")],
    }
    spec = selection_spec("dimuon")
    prepared = prepare(spec, fs, tmp_path / "out", RunOptions(chunksize=50))
    b = batch.prepare(prepared.staging, prepared.todo, 3, spec)
    assert [j["name"] for j in b.jobs] == ["job-000", "job-001", "job-002"]
    for j in b.jobs[:2]:
        assert job.main([str(b.job_dir(j["name"]))]) == 0
    with pytest.raises(merge.MergeError, match=r"1 of 3 job\(s\).*job-002: .*not run yet"):
        merge.merge(tmp_path / "out")
    good = (b.job_dir("job-002") / "job.json").read_text()
    (b.job_dir("job-002") / "job.json").write_text("{broken")
    assert job.main([str(b.job_dir("job-002"))]) == 1
    with pytest.raises(merge.MergeError, match=r"job-002: failed: JSONDecodeError"):
        merge.merge(tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()
    (b.job_dir("job-002") / "job.json").write_text(good)
    assert job.main([str(b.job_dir("job-002"))]) == 0
    merged = merge.merge(tmp_path / "out")
    ref = run_selection("dimuon", fs, tmp_path / "ref", chunksize=50, status=False)
    assert merged.manifest["files"] == ref.manifest["files"]
    assert merged.cutflow == ref.cutflow
    assert (tmp_path / "out" / "batch" / "jobs" / "job-000" / "done.json").exists()
    for name, h in read_hists(tmp_path / "ref")["hists"].items():
        got = read_hists(tmp_path / "out")["hists"][name]
        assert got == h, name  # hist equality: same axes, same contents bit for bit
    assert load_table(tmp_path / "out").to_list() == load_table(tmp_path / "ref").to_list()


def test_scratch_folder_must_be_ours(tmp_path):
    """A predictable /tmp scratch path someone else created (or a symlink) is refused."""
    from eventlens.condor.access import owned_dir

    mine = owned_dir(tmp_path / "scratch")
    assert mine.is_dir() and owned_dir(mine) == mine  # ours: accepted again
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(JobAccessError, match=r"link is not a plain directory .*runtime_dir"):
        owned_dir(tmp_path / "link")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(JobAccessError, match="is writable by other users"):
        owned_dir(shared)
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir()
        os.chown(foreign, NOBODY.uid, -1)
        with pytest.raises(JobAccessError, match=r"is owned by uid \d+, not by you"):
            owned_dir(foreign)
