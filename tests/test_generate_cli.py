"""``eventlens generate / make-samples / validate-samples`` from the command line:
bad input gives one clear line, output is atomic, samples are reused, plots are drawn."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from eventlens.cli import main

pytestmark = pytest.mark.integration

#: The installed console script, next to the interpreter running the tests.
EVENTLENS = [str(Path(sys.executable).parent / "eventlens")]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())  # rich wraps long lines


def test_unknown_process_lists_the_known_ones(capsys, tmp_path):
    code, text = run_cli(capsys, "generate", "zprime", "--events", 5, "-o", tmp_path / "z.root")
    assert code == 2
    assert "unknown process 'zprime'" in text and "dy, dy_lowmass, jpsi" in text
    assert not (tmp_path / "z.root").exists()


def test_unknown_tune_and_negative_pileup_are_refused(capsys, tmp_path):
    code, text = run_cli(capsys, "generate", "dy", "--events", 5, "--tune", "cp6",
                         "-o", tmp_path / "dy.root")
    assert code == 2 and "unknown tune 'cp6'; known tunes: cp5, monash" in text
    code, text = run_cli(capsys, "generate", "dy", "--events", 5, "--pileup", -2,
                         "-o", tmp_path / "dy.root")
    assert code == 2 and "--pileup must be a mean number of interactions" in text
    assert list(tmp_path.iterdir()) == []


def test_monash_tune_is_recorded_and_hashed(tmp_path):
    from eventlens.generate import GenerationRequest, generate
    from eventlens.generate.nanoaod import read_metadata

    metas = []
    for tune in (None, "monash"):
        path = tmp_path / f"{tune}.root"
        generate(GenerationRequest("dy", 20, 1, path, mpi=False, progress=False, tune=tune))
        metas.append(read_metadata(path))
    assert [m["tune"] for m in metas] == ["cp5", "monash"]
    assert metas[1]["settings_json"]["tune"] == ["Tune:pp = 14", "Tune:ee = 7"]
    assert metas[0]["settings_hash"] != metas[1]["settings_hash"]


@pytest.mark.parametrize("n", [0, -3])
def test_non_positive_event_count_is_refused(capsys, tmp_path, n):
    code, text = run_cli(capsys, "generate", "dy", "--events", n, "-o", tmp_path / "dy.root")
    assert code == 2 and f"positive number of events, got {n}" in text


def test_existing_output_needs_overwrite(capsys, tmp_path):
    out = tmp_path / "dy.root"
    out.write_text("precious")
    code, text = run_cli(capsys, "generate", "dy", "--events", 3, "-o", out, "--no-mpi")
    assert code == 2 and "pass --overwrite" in text
    assert out.read_text() == "precious"
    code, _ = run_cli(capsys, "generate", "dy", "--events", 3, "-o", out, "--no-mpi",
                      "--no-progress", "--overwrite")
    assert code == 0 and out.read_bytes()[:4] == b"root"


def test_output_that_is_a_folder_is_refused(capsys, tmp_path):
    code, text = run_cli(capsys, "generate", "dy", "--events", 3, "-o", tmp_path, "--overwrite")
    assert code == 2 and "is a folder" in text


def _registry(tmp_path, settings):
    path = tmp_path / "processes.yaml"
    lines = "\n".join(f"      - {s}" for s in settings)
    path.write_text(f"processes:\n  broken:\n    settings:\n{lines}\n")
    return path


def test_a_setting_pythia_rejects_is_named(capsys, tmp_path):
    reg = _registry(tmp_path, ["WeakSingleBoson:ffbar2gmZ = on",
                               "ParticleDecays:allowPhotonRadiation = on"])
    code, text = run_cli(capsys, "generate", "broken", "--registry", reg, "--events", 5,
                         "-o", tmp_path / "b.root")
    assert code == 2
    assert "rejected setting(s) ['ParticleDecays:allowPhotonRadiation = on']" in text
    assert str(reg).replace(" ", "") in text.replace(" ", "")  # rich may wrap the path
    assert not (tmp_path / "b.root").exists()


def test_a_failing_pythia_init_is_reported_not_silent(capsys, tmp_path):
    reg = _registry(tmp_path, ["WeakSingleBoson:ffbar2gmZ = on", "PhaseSpace:mHatMin = 20000"])
    code, text = run_cli(capsys, "generate", "broken", "--registry", reg, "--events", 5,
                         "-o", tmp_path / "b.root")
    assert code == 2
    assert "init() failed" in text and "vanishing cross sections" in text


def test_no_banners_on_stdout_unless_verbose(tmp_path):
    args = ["generate", "dy", "--events", "3", "--no-mpi", "--no-progress", "--overwrite",
            "-o", str(tmp_path / "dy.root")]
    quiet = subprocess.run([*EVENTLENS, "-q", *args], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""
    assert "PYTHIA" not in quiet.stderr and "FastJet" not in quiet.stderr
    verbose = subprocess.run([*EVENTLENS, *args, "-v"], capture_output=True, text=True,
                             timeout=120)
    assert verbose.returncode == 0
    assert "FastJet release" in verbose.stdout + verbose.stderr  # in the DEBUG log


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "jobs"), [(signal.SIGINT, 2), (signal.SIGTERM, 1)])
def test_interrupted_run_leaves_no_file(tmp_path, sig, jobs):
    out = tmp_path / "dy.root"
    proc = subprocess.Popen([*EVENTLENS, "-q", "generate", "dy", "--events", "100000",
                             "--jobs", str(jobs), "--no-progress", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".dy.root.") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    time.sleep(1.5)  # generating (chunk files / temporary output exist)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err or proc.returncode == 130
    assert list(tmp_path.iterdir()) == []  # neither the output nor any temporary file


@pytest.mark.slow
def test_killed_parent_leaves_no_worker_and_next_run_cleans_up(tmp_path):
    """Issue 13: SIGKILL of `generate --jobs 2` kills its workers; the next run removes the
    leftovers (temporary output, chunk folder, lock) and writes the file."""
    import psutil

    out = tmp_path / "dy.root"
    proc = subprocess.Popen([*EVENTLENS, "-q", "generate", "dy", "--events", "100000",
                             "--jobs", "2", "--no-progress", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".dy.root.chunks-") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    workers = []
    while len(workers) < 2:  # the pool's two generating workers
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if "resource_tracker" not in " ".join(c.cmdline())]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.kill()
    proc.communicate(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, [(w.pid, w.status()) for w in alive]
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert any(n.endswith(".tmp") for n in leftovers) and ".dy.root.lock" in leftovers

    code = subprocess.run([*EVENTLENS, "-q", "generate", "dy", "--events", "5", "--no-mpi",
                           "--no-progress", "-o", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert code.returncode == 0, code.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dy.root"]


_HOLD_LOCK = (
    "import sys; from pathlib import Path; from eventlens.generate.run import output_lock\n"
    "with output_lock(Path(sys.argv[1])):\n    print('locked', flush=True); sys.stdin.read()"
)


def test_a_second_run_on_the_same_output_is_refused(capsys, tmp_path):
    """While another process generates an output, a second run neither writes nor cleans it."""
    out = tmp_path / "dy.root"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        (tmp_path / ".dy.root.abc123.tmp").write_text("the other run's temporary output")
        code, text = run_cli(capsys, "generate", "dy", "--events", 3, "--no-mpi", "-o", out)
        assert code == 2 and "another eventlens run is writing it" in text
        assert (tmp_path / ".dy.root.abc123.tmp").exists() and not out.exists()
    finally:
        holder.communicate("", timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dy.root.abc123.tmp"]


@pytest.fixture(scope="module")
def hgg_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("samples")


@pytest.mark.slow
def test_make_samples_writes_fileset_and_reuses_files(capsys, hgg_folder):
    args = ["make-samples", "hgg", "-n", 40, "-o", hgg_folder, "--no-mpi", "--no-progress"]
    code, text = run_cli(capsys, *args)
    assert code == 0, text
    fileset = json.loads((hgg_folder / "fileset_hgg.json").read_text())
    assert set(fileset) == {"hgg", "diphoton", "gjet"}
    for name, entry in fileset.items():
        (path, tree), = entry["files"].items()
        assert Path(path) == (hgg_folder / f"{name}.root").resolve() and tree == "Events"
        meta = entry["metadata"]
        assert meta["process"] == name and meta["nevents"] == 40 and meta["sumw"] == 40.0
        assert meta["xsec"] > 0 and meta["label"]
        assert meta["tune"] == "cp5" and meta["pileup_mu"] == 0
        assert meta["era"] == "2018"  # the detector's working points (configs/eras.yaml)
    assert fileset["hgg"]["metadata"]["xsec"] < 0.1 < fileset["diphoton"]["metadata"]["xsec"]

    mtimes = {p: p.stat().st_mtime_ns for p in hgg_folder.glob("*.root")}
    code, text = run_cli(capsys, *args)
    assert code == 0 and text.count("reusing") == 3
    assert {p: p.stat().st_mtime_ns for p in hgg_folder.glob("*.root")} == mtimes

    # other sizes (one per process with --events): regenerate
    code, text = run_cli(capsys, *args[:2], "-n", 50, "--events", "diphoton=60", *args[4:])
    assert code == 0 and text.count("settings changed") == 3
    fileset = json.loads((hgg_folder / "fileset_hgg.json").read_text())
    assert [fileset[p]["metadata"]["nevents"] for p in ("hgg", "diphoton")] == [50, 60]

    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    entry = json.loads((hgg_folder / "fileset_hgg.json").read_text())["hgg"]
    with warnings.catch_warnings():  # cross-references absent from reduced NanoAOD
        warnings.simplefilter("ignore", RuntimeWarning)
        events = NanoEventsFactory.from_root(entry["files"], schemaclass=NanoAODSchema,
                                             mode="eager").events()
    assert len(events) == 50 and "Photon" in events.fields


@pytest.mark.slow
def test_validate_samples_draws_the_control_plots(capsys, hgg_folder):
    if not list(hgg_folder.glob("*.root")):
        run_cli(capsys, "make-samples", "hgg", "-n", 40, "-o", hgg_folder, "--no-mpi",
                "--no-progress")
    plots = hgg_folder / "plots"
    code, text = run_cli(capsys, "validate-samples", hgg_folder, "-o", plots)
    assert code == 0, text
    for name in ("diphoton_mass", "multiplicities", "btag", "met"):
        for ext in ("png", "pdf"):
            assert (plots / f"{name}.{ext}").stat().st_size > 1000, name
    summary = json.loads((plots / "summary.json").read_text())
    assert set(summary["samples"]) == {"hgg", "diphoton", "gjet"}
    assert abs(summary["samples"]["hgg"]["peaks_GeV"]["h_gg"] - 125) < 2


@pytest.mark.parametrize("value, message", [
    ("ttbar=10", "not a process of this task; its processes are hgg, diphoton, gjet"),
    ("diphoton=0", "expected PROCESS=N with N a positive integer"),
])
def test_make_samples_refuses_bad_per_process_events(capsys, tmp_path, value, message):
    try:  # argparse exits with 2 on a malformed value, main() returns 2 on an unknown process
        code, text = run_cli(capsys, "make-samples", "hgg", "-n", 10, "--events", value,
                             "-o", tmp_path, "--no-progress")
    except SystemExit as exc:
        code, text = exc.code, " ".join(capsys.readouterr().err.split())
    assert code == 2 and message in text, text
    assert not list(tmp_path.iterdir())


def test_validate_samples_on_a_folder_without_samples(capsys, tmp_path):
    code, text = run_cli(capsys, "validate-samples", tmp_path, "-o", tmp_path / "plots")
    assert code == 2 and "no eventlens NanoAOD files" in text

