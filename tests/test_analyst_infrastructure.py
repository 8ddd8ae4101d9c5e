"""Meeting the analyst's infrastructure (issue 17, part 5).

* ``--scheduler tcp://HOST:PORT``: ``eventlens infer`` on an existing Dask cluster — a
  real ``distributed.LocalCluster`` started in another process and reached only by its
  address, as coffea-casa, dask-lxplus or lpcjobqueue hand one out — gives the
  iterative executor's histograms;
* coffea's *preprocessed* fileset, as ``coffea.dataset_tools.preprocess`` writes it for
  the real samples (``object_path``/``steps`` per file, a ``form`` per dataset), is
  read and selects what the plain fileset selects;
* CLI consistency: ``export`` and ``render`` refuse an existing output without
  ``--overwrite`` (checked before any work), ``render --model`` draws what the model
  sees, and every option of every command has help text.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from eventlens.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
MODEL = "dtw_compact_cnn"
SAMPLES = ("nano_tt_v12.root", "nano_dy.root", "nano_dimuon.root", "nano_tt_v15.root")


def plain_fileset(nanoaod_dir: Path) -> dict:
    return {Path(f).stem: {"files": {str(nanoaod_dir / f): "Events"}} for f in SAMPLES}


def read(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


# ---- an existing Dask cluster, by address -------------------------------------------------
CLUSTER = """
import sys, time
from distributed import LocalCluster
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address=None, host="127.0.0.1")
print(cluster.scheduler_address, flush=True)
while True:  # until the test terminates this process
    time.sleep(1)
"""


@pytest.fixture
def dask_cluster():
    """A LocalCluster in its own process; yields its scheduler address."""
    proc = subprocess.Popen([sys.executable, "-c", CLUSTER], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        address = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert address.startswith("tcp://127.0.0.1:"), address
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.integration
@pytest.mark.slow
def test_infer_on_an_existing_cluster_by_address(dask_cluster, nanoaod_dir, tmp_path):
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(plain_fileset(nanoaod_dir)))
    common = ["-q", "infer", "--model", MODEL, "--fileset", str(fileset), "--chunksize", "100"]
    assert main([*common, "-o", str(tmp_path / "iterative")]) == 0
    t0 = time.monotonic()
    assert main([*common, "-o", str(tmp_path / "cluster"), "--scheduler", dask_cluster]) == 0
    assert time.monotonic() - t0 < 600
    manifest = read(tmp_path / "cluster", "manifest.json")
    assert "dask" in json.dumps(manifest).lower()
    for name in ("hists.json", "cutflow.json"):
        assert read(tmp_path / "cluster", name) == read(tmp_path / "iterative", name), name
    got, want = (read(tmp_path / d, "inference.json") for d in ("cluster", "iterative"))
    assert got["hists"] == want["hists"] if "hists" in got else got == want
    assert read(tmp_path / "cluster", "summary.json")["events_selected"] > 0
    # a scheduler nobody listens on: one line, no hang
    assert main([*common, "-o", str(tmp_path / "x"), "--scheduler", "tcp://127.0.0.1:9"]) == 2


# ---- coffea's preprocessed fileset ------------------------------------------------------
@pytest.mark.integration
def test_preprocessed_fileset_from_coffea(nanoaod_dir, tmp_path):
    from coffea.dataset_tools import preprocess

    plain = plain_fileset(nanoaod_dir)
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        available, _ = preprocess(plain, step_size=70, align_clusters=False, save_form=True,
                                  skip_bad_files=False)
    entry = next(iter(available.values()))
    file_entry = next(iter(entry["files"].values()))
    assert file_entry["object_path"] == "Events" and file_entry["steps"], file_entry
    assert entry.get("form") or entry.get("compressed_form"), "save_form=True writes the form"
    preprocessed = tmp_path / "preprocessed.json"
    preprocessed.write_text(json.dumps(available))
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    for name in ("plain", "preprocessed"):
        assert main(["-q", "select", "dtw", "--fileset", str(tmp_path / f"{name}.json"),
                     "-o", str(tmp_path / name)]) == 0
    for out in ("hists.json", "cutflow.json"):
        assert read(tmp_path, f"preprocessed/{out}") == read(tmp_path, f"plain/{out}"), out
    cutflow = read(tmp_path / "preprocessed", "cutflow.json")
    assert "200" in json.dumps(cutflow)  # the tt samples' 200 events were all read
    # a preprocessed Parquet dataset is refused in one line
    entry["format"] = "parquet"
    preprocessed.write_text(json.dumps(available))
    assert main(["-q", "select", "dtw", "--fileset", str(preprocessed),
                 "-o", str(tmp_path / "parquet")]) == 2


# ---- CLI consistency ----------------------------------------------------------------------
@pytest.fixture(autouse=True)
def keep_log_capture(monkeypatch):
    """The CLI's logging setup replaces the root handlers (caplog's among them)."""
    import eventlens.cli

    monkeypatch.setattr(eventlens.cli, "setup_logging", lambda verbose, quiet: None)


def errors(caplog) -> str:
    """What the CLI logged as errors (the one line a user sees), then forget them."""
    text = " ".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    caplog.clear()
    return text


def test_export_refuses_an_existing_model_before_any_work(tmp_path, caplog):
    pytest.importorskip("torch")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"keep me")
    rc = main(["export", str(tmp_path / "no_such_checkpoint.pt"), "-o", str(model)])
    assert rc == 2 and model.read_bytes() == b"keep me"
    assert "m.onnx exists; pass --overwrite" in errors(caplog)
    model.unlink()
    (tmp_path / "m.json").write_text("{}")  # its card alone is protected too
    assert main(["export", str(tmp_path / "no_such_checkpoint.pt"), "-o", str(model)]) == 2
    assert "m.json exists; pass --overwrite" in errors(caplog)
    # with --overwrite it goes on, and fails on the missing checkpoint instead
    assert main(["export", str(tmp_path / "no_such_checkpoint.pt"), "-o", str(model),
                 "--overwrite"]) == 2
    message = errors(caplog)
    assert "no_such_checkpoint" in message and "exists" not in message, message


def test_render_refuses_an_existing_output(tmp_path, nanoaod_dir, caplog):
    out = tmp_path / "img.npz"
    out.write_bytes(b"keep me")
    assert main(["render", str(nanoaod_dir / "nano_dy.root"), "-o", str(out)]) == 2
    assert "img.npz exists; pass --overwrite" in errors(caplog)
    assert out.read_bytes() == b"keep me" and not out.with_suffix(".json").exists()
    assert main(["render", str(nanoaod_dir / "nano_dy.root"), "-o", str(out), "--size", "16",
                 "--overwrite"]) == 0
    assert np.load(out)["images"].shape[1:] == (6, 16, 16)


def test_render_with_a_model_draws_what_the_model_sees(tmp_path, nanoaod_dir):
    import awkward as ak

    from eventlens import load_model
    from eventlens.nanoaod import open_events
    from eventlens.render import render

    sample = nanoaod_dir / "nano_tt_v12.root"
    out = tmp_path / "img.npz"
    assert main(["render", str(sample), "--model", MODEL, "-o", str(out)]) == 0
    model = load_model(MODEL)
    events = open_events(sample)
    want = render(ak.drop_none(model.objects(events)), model.card.render_config)
    got = np.load(out)
    np.testing.assert_array_equal(got["images"], want)
    selected = np.asarray(model.selected(events))
    np.testing.assert_array_equal(got["event"], np.asarray(events.event)[selected])
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["events_drawn"] == selected.sum() < record["events_read"] == len(events)
    assert record["render_config_digest"] == model.card.render_config_digest
    # the picture options belong to the model then
    assert main(["render", str(sample), "--model", MODEL, "--size", "16",
                 "-o", str(tmp_path / "x.npz")]) == 2


def test_every_option_has_help():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = {
        name: [a.option_strings or a.dest for a in p._actions
               if not isinstance(a, argparse._HelpAction) and not a.help]
        for name, p in sub.choices.items()
    }
    assert not {k: v for k, v in missing.items() if v}, missing
    assert "condor-pool" not in sub.choices  # development tooling: devtools/condor-pool.sh
