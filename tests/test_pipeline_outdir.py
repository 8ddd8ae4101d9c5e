"""The output folder of a run: earlier results survive a failed or interrupted rerun, an
interrupted run is refused (it says so) or resumed, and bad output paths are one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from eventlens.errors import ConfigError, InputFileError
from eventlens.pipeline.outdir import IncompleteRunError
from eventlens.pipeline.select import run_selection
from eventlens.pipeline.table import load_table
from nanoaod_toy import corrupt_basket, fileset

pytestmark = pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning")


def select(fs, out, **kw):
    return run_selection("dimuon", fs, out, status=False, **kw)


def test_failed_overwrite_leaves_the_old_results(toy_samples, tmp_path):
    out = tmp_path / "out"
    good = fileset(toy_samples, ["jpsi", "dy"])
    first = select(good, out, chunksize=20)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = corrupt_basket(toy_samples["dy"], tmp_path / "broken.root", "Muon_pt", 0)
    bad = fileset({"jpsi": toy_samples["jpsi"], "dy": broken}, ["jpsi", "dy"])
    with pytest.raises(InputFileError, match=r"broken\.root"):
        select(bad, out, chunksize=20, overwrite=True)
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before, "the failed rerun changed the earlier results"
    assert first.manifest["rows"] == len(load_table(out))
    # a failed run is discarded by the next one: nothing to resume by hand
    res = select(bad, out, chunksize=20, overwrite=True, skip_bad_files=True)
    assert [s["entry_start"] for s in res.manifest["skipped"]] == [0]
    assert not out.with_name("out.incomplete").exists()


def test_resume_keeps_the_chunks_done(toy_samples, tmp_path):
    """Chunks done before an interruption are not redone; the result equals an uninterrupted run."""
    from eventlens.pipeline import chunks as chunklib
    from eventlens.pipeline.finish import read_hists
    from eventlens.pipeline.run import RunOptions, prepare
    from eventlens.pipeline.select import selection_spec

    fs = fileset(toy_samples, ["jpsi", "dy"])
    ref = select(fs, tmp_path / "ref", chunksize=20)
    out = tmp_path / "out"
    # the first half of the chunks, as if the run had been killed then
    prepared = prepare(selection_spec("dimuon"), fs, out, RunOptions(chunksize=20))
    from coffea import processor

    from eventlens.pipeline.execute import run_chunks

    half = prepared.todo[: len(prepared.todo) // 2]
    run_chunks(
        half,
        prepared.spec.build(prepared.staging.path),
        prepared.staging.chunks,
        processor.IterativeExecutor(status=False),
        filter_names=prepared.filter_names,
    )
    (prepared.staging.chunks / ".half-written.json.gz.tmp").write_bytes(b"x")
    with pytest.raises(
        IncompleteRunError, match=r"out.incomplete holds an incomplete run.*--resume"
    ):
        select(fs, out, chunksize=20)
    with pytest.raises(IncompleteRunError):
        select(fs, out, chunksize=20, overwrite=False)
    again = prepare(selection_spec("dimuon"), fs, out, RunOptions(chunksize=20, resume=True))
    assert [chunklib.name_of(i) for i in again.todo] == [
        chunklib.name_of(i) for i in prepared.todo[len(half) :]
    ], "only the chunks without a result are left to do"
    assert not list(out.with_name("out.incomplete").rglob("*.tmp")), "leftovers are cleaned"
    res = select(fs, out, chunksize=20, resume=True)
    assert res.cutflow == ref.cutflow
    assert read_hists(out)["hists"] == read_hists(tmp_path / "ref")["hists"]
    assert load_table(out).to_list() == load_table(tmp_path / "ref").to_list()


def test_resume_refuses_another_run(toy_samples, tmp_path):
    from eventlens.pipeline.run import RunOptions, prepare
    from eventlens.pipeline.select import selection_spec

    fs = fileset(toy_samples, ["jpsi"])
    prepare(selection_spec("dimuon"), fs, tmp_path / "out", RunOptions(chunksize=20))
    with pytest.raises(Exception, match=r"cannot resume: the fileset differs"):
        select(fileset(toy_samples, ["dy"]), tmp_path / "out", chunksize=20, resume=True)
    with pytest.raises(Exception, match=r"--chunksize was 20"):
        select(fs, tmp_path / "out", chunksize=30, resume=True)


def test_bad_output_paths_are_one_line(toy_samples, tmp_path):
    fs = fileset(toy_samples, ["jpsi"])
    a_file = tmp_path / "out.txt"
    a_file.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"out.txt: is a file, not an output folder"):
        select(fs, a_file)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores modes: use a path that cannot exist
            target = tmp_path / "out.txt" / "sub" / "out"
            with pytest.raises(ConfigError, match="cannot create the output folder"):
                select(fs, target)
        else:
            with pytest.raises(ConfigError, match="not writable"):
                select(fs, locked / "out")
    finally:
        locked.chmod(0o755)


def test_killed_run_leaves_no_output_and_is_refused(toy_samples, tmp_path):
    """SIGKILL of `eventlens select` mid-run: OUT never appears half-written; the next run
    says the folder holds an incomplete run; --resume finishes it."""
    fs_path = tmp_path / "fs.json"
    fs_path.write_text(json.dumps(fileset(toy_samples, ["jpsi", "dy", "upsilon", "psi2s"])))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from eventlens.cli import main; sys.exit(main())",
        "-q",
        "select",
        "dimuon",
        "--fileset",
        str(fs_path),
        "-o",
        str(out),
        "--chunksize",
        "5",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = out.with_name("out.incomplete")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((staging / "chunks").glob("*.json.gz")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    with pytest.raises(IncompleteRunError, match="incomplete run"):
        select(fs_path, out, chunksize=5)
    res = select(fs_path, out, chunksize=5, resume=True)
    assert res.manifest["rows"] == len(load_table(out)) > 0


@pytest.mark.parametrize("executor", ["futures", "dask"])
def test_no_worker_survives_a_killed_driver(toy_samples, tmp_path, executor):
    """SIGKILL of `eventlens select --executor futures|dask`: its worker processes end too
    (they would otherwise go on computing chunks nobody collects)."""
    import psutil

    fs_path = tmp_path / "fs.json"
    fs_path.write_text(json.dumps(fileset(toy_samples, ["jpsi", "dy", "upsilon", "psi2s"])))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from eventlens.cli import main; sys.exit(main())",
        "-q",
        "select",
        "dimuon",
        "--fileset",
        str(fs_path),
        "-o",
        str(out),
        "--chunksize",
        "2",
        "--executor",
        executor,
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = out.with_name("out.incomplete")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list((staging / "chunks").glob("*.json.gz")):
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the run had worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [" ".join(p.cmdline()[:4]) for p in alive]
