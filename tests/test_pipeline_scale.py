"""Issue 19: the per-file checks moved out of the driver, progress at scale, linear merging.

The plan reads each file's entry count from its TTree header and parses one
file per dataset in full; every other file's branches are checked by the
worker that reads it (ChunkRecorder) and acted on in the finish step.  These
tests hold the promises of that move, with the iterative and the futures
executor: the same one-line errors (missing file, not ROOT, missing branch),
the same ``--skip-bad-files`` records, the same Σ genWeight (Runs tree and
Events fallback), simulation/data mixing refused, the NanoAOD flavour of a
file the plan never parsed.
"""

from __future__ import annotations

import logging
import time

import hist
import numpy as np
import pytest
import uproot

from eventlens.errors import ConfigError, InputFileError
from eventlens.pipeline import progress
from eventlens.pipeline.chunks import from_json, name_of
from eventlens.pipeline.fileset import _light_entries, check_file, inspect_file
from eventlens.pipeline.finish import add_into, keep_first
from eventlens.pipeline.select import run_selection
from eventlens.pipeline.table import load_table
from eventlens.processors import flavour
from eventlens.processors.flavour import MissingBranchError
from eventlens.processors.inputs import needs_of
from eventlens.processors.registry import load_config
from nanoaod_toy import PUPPI_SCALE, process_events, write_nanoaod

pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference index:RuntimeWarning",
    "ignore:Branch Photon_mass already exists:RuntimeWarning",
)

EXECUTORS = ["iterative", "futures"]


def select(task, fs, out, **kw):
    return run_selection(task, fs, out, status=False, workers=2, **kw)


def files(*paths, **metadata):
    return {"files": {str(p): "Events" for p in paths}, "metadata": metadata}


# ---- the plan's look at a file ------------------------------------------------------
def test_entry_count_from_the_tree_header_equals_uproots(nanoaod_dir, toy_samples):
    """The header read gives uproot's count on real CMS files (CMSSW- and uproot-written,
    v9/v12/v15, empty) and on the toys; the plan then holds no branch list."""
    paths = [*sorted(nanoaod_dir.glob("*.root")), *toy_samples.values()]
    for path in paths:
        with uproot.open(path) as f:
            assert _light_entries(f, "Events") == f["Events"].num_entries, path
        info = inspect_file(str(path), "Events")
        assert info.entries == uproot.open(path)["Events"].num_entries
        assert (info.branches is None) == (info.entries > 0), "parsed in full only when empty"
    full = inspect_file(str(paths[0]), "Events", branches=True)
    assert full.branches and "run" in full.branches


@pytest.mark.parametrize("executor", EXECUTORS)
def test_unreadable_files_keep_their_one_line(executor, toy_samples, tmp_path):
    garbage = tmp_path / "garbage.root"
    garbage.write_bytes(b"this is not a ROOT file" * 10)
    missing = tmp_path / "missing.root"
    fs = {"dy": [str(toy_samples["dy"]), str(garbage), str(missing)]}
    with pytest.raises(InputFileError, match=r"garbage.root: not a readable ROOT file"):
        select("dimuon", fs, tmp_path / "a", executor=executor)
    fs = {"dy": [str(toy_samples["dy"]), str(missing)]}
    with pytest.raises(InputFileError, match=r"missing.root: no such file$"):
        select("dimuon", fs, tmp_path / "b", executor=executor)
    fs = {"dy": [str(toy_samples["dy"]), str(garbage), str(missing)]}
    res = select("dimuon", fs, tmp_path / "c", executor=executor, skip_bad_files=True)
    skipped = res.manifest["skipped"]
    assert [(s["dataset"], s["file"]) for s in skipped] == [
        ("dy", str(garbage)),
        ("dy", str(missing)),
    ]
    assert all(set(s) == {"dataset", "file", "reason"} for s in skipped)
    assert skipped[1]["reason"] == f"{missing}: no such file"
    assert res.cutflow["dy"]["read"] == 40


@pytest.mark.parametrize("executor", EXECUTORS)
def test_missing_branch_found_by_the_worker_as_by_the_plan(executor, toy_samples, tmp_path):
    """A file lacking Muon_tightId: first in its dataset, the plan parses it and stops the run
    before any chunk; second, the worker reading it finds it.  Same error, same message,
    same skip record either way."""
    noid = write_nanoaod(
        tmp_path / "noid.root", process_events("wjets", 10, 6), drop=["Muon_tightId"]
    )
    good = toy_samples["wjets"]
    needs = needs_of(load_config("dtw"))
    [(_, fact)] = check_file((str(noid), "Events", False, True), needs)
    message = fact["error"]
    assert message.startswith(f"{noid}: missing branch Muon_tightId") and fact["missing_branch"]
    record = {"dataset": "wjets", "file": str(noid), "reason": message}
    for order in ((noid, good), (good, noid)):
        fs = {"wjets": files(*order, process="wjets", xsec=1.0)}
        out = tmp_path / f"{executor}_{order[0].stem}"
        with pytest.raises(MissingBranchError) as err:
            select("dtw", fs, out, executor=executor)
        assert str(err.value) == message
        staging = out.with_name(out.name + ".incomplete")
        if order[0] == noid:
            assert not staging.exists(), "the plan stops the run before any chunk"
        else:
            assert list((staging / "chunks").iterdir()), "the workers found it"
        res = select("dtw", fs, out, executor=executor, skip_bad_files=True, overwrite=True)
        assert res.manifest["skipped"] == [record]
        assert res.cutflow["wjets"]["read"] == 40
        assert res.manifest["datasets"]["wjets"]["entries"] == 40


@pytest.mark.parametrize("executor", EXECUTORS)
def test_sum_of_generator_weights_as_before(executor, tmp_path):
    """Runs trees (the plan reads them) and the Events fallback (Σ genWeight, in the same
    open): the same sums, summed file by file in fileset order."""
    runs = [
        write_nanoaod(tmp_path / f"r{i}.root", process_events("dy", 20, i), runs_sumw=w)
        for i, w in ((1, 123.5), (2, 76.25))
    ]
    bare = [
        write_nanoaod(tmp_path / f"e{i}.root", process_events("dy", 20, i), runs_sumw=None)
        for i in (3, 4, 5)
    ]
    fs = {
        "runs": files(*runs, process="dy", xsec=2.0),
        "events": files(*bare, process="dy", xsec=2.0),
        "given": files(*bare[:1], process="dy", xsec=2.0, sumw=10.0),
    }
    res = select("dimuon", fs, tmp_path / "out", executor=executor)
    ds = res.manifest["datasets"]
    assert (ds["runs"]["sumw"], ds["runs"]["sumw_source"]) == (199.75, "Runs.genEventSumw")
    want = 0.0
    for path in bare:
        with uproot.open(path) as f:
            want += float(f["Events"]["genWeight"].array(library="np").astype("f8").sum())
    assert (ds["events"]["sumw"], ds["events"]["sumw_source"]) == (want, "Events.genWeight")
    assert (ds["given"]["sumw"], ds["given"]["sumw_source"]) == (10.0, "metadata")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_simulation_and_data_in_one_dataset_are_refused(executor, toy_samples, tmp_path):
    data = write_nanoaod(tmp_path / "data.root", process_events("dy", 10, 4), simulation=False)
    sim = toy_samples["dy"]
    message = (
        f"dataset 'dy' mixes simulation ({sim}, has genWeight) and data ({data}, no genWeight); "
        "put them in separate datasets"
    )
    for order in ((sim, data), (data, sim)):  # the second file: found by the worker
        with pytest.raises(ConfigError) as err:
            select("dimuon", {"dy": [str(p) for p in order]}, tmp_path / "o", executor=executor)
        assert str(err.value) == message


def test_flavour_of_a_file_the_plan_did_not_parse(tmp_path):
    """The second file (Run 3 v12) is only opened by its worker: it is still read as v12
    (PuppiMET), as the plan reads the first (v9)."""
    events = process_events("ttbar", 12, 3)
    v9 = write_nanoaod(tmp_path / "v9.root", events, flavour="v9")
    v12 = write_nanoaod(tmp_path / "v12.root", events, flavour="v12", first_event=1001)
    fs = {"ttbar": files(v9, v12, process="ttbar")}
    res = select("dtw", fs, tmp_path / "out", executor="iterative")
    assert res.manifest["datasets"]["ttbar"]["nanoaod"] == {flavour.RUN2: 1, flavour.RUN3_V12: 1}
    assert f"{v12}: MET read from PuppiMET_pt/PuppiMET_phi" in res.manifest["notes"]
    rows = load_table(tmp_path / "out")
    met = rows.objects[rows.objects["type"] == 4].pt[:, 0].to_numpy()
    late = rows.event.to_numpy() >= 1001
    assert late.sum() == (~late).sum() > 0
    np.testing.assert_allclose(
        np.sort(met[late]), np.sort(met[~late] * np.float32(PUPPI_SCALE)), rtol=1e-6
    )


def test_branch_names_come_from_the_tree_coffea_read(nanoaod_dir, monkeypatch):
    """The worker's branch check costs no second parse of the tree: its names are taken from
    the tree coffea parsed to build the chunk (a coffea change that hides it fails here)."""
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    import eventlens.pipeline.fileset as fileset

    def reopen(*args):
        raise AssertionError("the file was opened again for its branch names")

    monkeypatch.setattr(fileset, "_branch_names", reopen)
    path = nanoaod_dir / "nano_tt_v12.root"
    with uproot.open(path) as file:
        events = NanoEventsFactory.from_root(
            file=file,
            treepath="Events",
            schemaclass=NanoAODSchema,
            mode="virtual",
            iteritems_options={"filter_name": ["run", "luminosityBlock", "event", "nMuon*"]},
            metadata={"filename": str(path), "treename": "Events"},
        ).events()
        names = fileset.chunk_branches(events)
    assert len(names) == 654 and "Jet_btagPNetB" in names


@pytest.mark.parametrize("executor", EXECUTORS)
def test_quiet_means_no_progress_bars(executor, toy_samples, tmp_path, capfd):
    select("dimuon", {"jpsi": [str(toy_samples["jpsi"])]}, tmp_path / "o", executor=executor)
    out, err = capfd.readouterr()
    for bar in ("Checking files", "Processing", "Merging"):
        assert bar not in out + err


# ---- progress -------------------------------------------------------------------------
def _items(tmp_path):
    spans = {"a.root": [(0, 100), (100, 200)], "b.root": [(0, 50)], "c.root": [(0, 50)]}
    return [
        from_json(
            {
                "dataset": "ds",
                "filename": str(tmp_path / name),
                "treename": "Events",
                "entrystart": start,
                "entrystop": stop,
                "fileuuid": "00" * 16,
            }
        )
        for name, ranges in spans.items()
        for start, stop in ranges
    ]


def _finish(folder, item):
    (folder / f"{name_of(item)}.json.gz").write_bytes(b"")


def test_progress_counts_files_events_and_eta(tmp_path):
    items = _items(tmp_path)
    chunks = tmp_path / "chunks"
    chunks.mkdir()
    watch = progress.ChunkWatch(chunks, items)
    snap = watch.poll()
    assert (snap.files_done, snap.files, snap.events_done, snap.events) == (0, 3, 0, 300)
    assert snap.rate is None and "waiting for the first chunk" in snap.line()
    _finish(chunks, items[0])
    (chunks / "unrelated.json.gz").write_bytes(b"")  # not a chunk of this run
    (chunks / f".{name_of(items[1])}.json.gz.tmp").write_bytes(b"")  # half-written
    time.sleep(0.01)
    snap = watch.poll()
    assert (snap.files_done, snap.events_done) == (0, 100), "a.root has a chunk left"
    _finish(chunks, items[1])
    _finish(chunks, items[2])
    snap = watch.poll()
    assert (snap.files_done, snap.events_done) == (2, 250)
    assert snap.line().startswith("2/3 files, 250/300 events (83 %), ")
    assert snap.rate and snap.rate > 0 and "ETA" in snap.line()
    # a resumed run: what was done before counts as done, not as speed
    again = progress.ChunkWatch(chunks, items).snapshot()
    assert (again.files_done, again.events_done, again.rate) == (2, 250, None)


def test_watch_logs_and_stays_quiet_when_told(tmp_path, caplog):
    items = _items(tmp_path)
    chunks = tmp_path / "chunks"
    chunks.mkdir()
    with caplog.at_level(logging.INFO, logger="eventlens.pipeline.progress"):
        with progress.watch(chunks, items, enabled=False, interval=0.01):
            time.sleep(0.05)
        assert not caplog.records
        with progress.watch(chunks, items, interval=0.01):
            deadline = time.monotonic() + 10
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.01)
            for item in items:
                _finish(chunks, item)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("0/3 files, 0/300 events (0 %), waiting for the first chunk")
    assert lines[-1].startswith("processed 3/3 files, 300 events in ")


def test_duration_reads_at_a_glance():
    assert [progress.duration(s) for s in (42.4, 185, 7620)] == ["42 s", "3 min 05 s", "2 h 07 min"]


# ---- adding chunk results -------------------------------------------------------------
def _result(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    h = hist.Hist.new.StrCat([], growth=True, name="dataset").Reg(10, 0, 1, name="x").Weight()
    h.fill(dataset=f"d{seed % 2}", x=rng.random(50), weight=rng.normal(1.0, 0.3, 50))
    return {
        "hists": {"x": h},
        "cutflow": {f"d{seed % 2}": {"read": 50, "steps": {"a": {"passed": seed}}}},
        "tables": {f"d{seed % 2}": {f"chunk{seed}": {"rows": seed}}},
        "failures": {("d", f"f{seed}", 0, 1, "x")} if seed % 3 == 0 else set(),
        "examples": {"c": [seed, seed]},
    }


def test_add_into_is_coffeas_accumulate_bit_for_bit():
    from coffea.processor import accumulate

    ref = accumulate([_result(i) for i in range(7)])
    got = None
    for i in range(7):
        got = _result(i) if got is None else add_into(got, _result(i))
    h_ref, h_got = ref["hists"]["x"], got["hists"]["x"]
    assert list(h_got.axes["dataset"]) == list(h_ref.axes["dataset"])
    assert np.array_equal(h_got.view(flow=True), h_ref.view(flow=True))
    for key in ("cutflow", "tables", "failures", "examples"):
        assert got[key] == ref[key], key
        if isinstance(ref[key], dict):
            assert list(got[key]) == list(ref[key]), "keys in first-seen order"


def test_keep_first_bounds_the_examples():
    out = {"examples": {"a": list(range(10)), "b": [1]}}
    keep_first("examples", 3)(out)
    assert out == {"examples": {"a": [0, 1, 2], "b": [1]}}
    keep_first("absent", 3)(out)
