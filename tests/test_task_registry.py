"""The task registry is the one list of tasks, and adding a task is a module plus its YAML.

The toy task below is written by the test into a temporary folder (nothing in
the repository names it), found through the registry's extension points
(``$EVENTLENS_TASKS`` for the command line, ``register_task`` in code) and run
through ``eventlens select`` on the toy NanoAOD of ``nanoaod_toy.py``.
"""

from __future__ import annotations

import importlib
import json
import uuid

import pytest

from conftest import REPO
from eventlens.cli import main
from eventlens.errors import ConfigError
from eventlens.pipeline.table import MANIFEST, load_table
from eventlens.processors import registry
from nanoaod_toy import fileset

pytestmark = pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning")

TOY_MODULE = '''
"""A toy task: two good muons, the mass of the leading two; classes from the dataset."""
from dataclasses import dataclass
from pathlib import Path

import awkward as ak

from eventlens.processors.cuts import bad_values, good_objects
from eventlens.processors.kinematics import leading_two, pair_mass, pair_objects
from eventlens.processors.task import Candidates, Task


@dataclass(frozen=True)
class Params:
    min_muons: int = 2


def select(inputs, cfg, cutflow):
    cuts = cfg.objects["muon"]
    muons = good_objects(inputs["muon"], cuts)
    enough = ak.num(muons, axis=1) >= cfg.selection.min_muons
    cutflow.require("toy_muons", enough, bad=bad_values(inputs, "muon", cuts))
    pair = leading_two(muons)
    return Candidates(objects={"Muon": pair_objects(pair)}, mass=pair_mass(pair))


TASK = Task(
    name="NAME",
    select=select,
    params=Params,
    objects=("muon",),
    provides=("Muon", "MET"),
    steps=("toy_muons",),
    mass_definition="invariant mass of the two leading good muons [GeV]",
    axis_label=r"$m_{\\mu\\mu}^{toy}$ [GeV]",
    config=Path(__file__).with_suffix(".yaml"),
)
'''

TOY_CONFIG = """
task: NAME
classes: [jpsi, upsilon]
labels: {source: metadata}
objects:
  muon: {collection: Muon, pt_min: 3.0, abs_eta_max: 2.4}
btag: {branch: btagDeepFlavB, working_point: medium, working_points: {medium: 0.2783}}
selection: {min_muons: 2}
table: {collections: [Muon]}
histograms:
  mass: {bins: 60, start: 0.0, stop: 12.0}
"""


@pytest.fixture
def toy_task(tmp_path, monkeypatch):
    """A task module + YAML in tmp_path, importable under a fresh name; returns the name."""
    name = f"toy{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "mytasks"
    folder.mkdir()
    (folder / f"{name}.py").write_text(TOY_MODULE.replace("NAME", name))
    (folder / f"{name}.yaml").write_text(TOY_CONFIG.replace("NAME", name))
    monkeypatch.syspath_prepend(str(folder))
    return name


def _fileset(toy_samples, tmp_path):
    path = tmp_path / "fileset.json"
    path.write_text(json.dumps(fileset(toy_samples, ["jpsi", "upsilon"])))
    return path


def test_a_task_from_outside_runs_through_eventlens_select(toy_task, toy_samples, tmp_path,
                                                           monkeypatch):
    from eventlens.pipeline.finish import read_hists

    with pytest.raises(SystemExit):  # not a task until the registry is told about it
        main(["select", toy_task, "--fileset", "x", "-o", str(tmp_path / "no")])
    monkeypatch.setenv(registry.TASKS_ENV, toy_task)
    assert registry.task_names()[-1] == toy_task
    out = tmp_path / "out"
    args = ["-q", "select", toy_task, "--fileset", str(_fileset(toy_samples, tmp_path))]
    assert main([*args, "-o", str(out)]) == 0

    manifest = json.loads((out / MANIFEST).read_text())
    cfg = registry.load_config(toy_task)
    assert manifest["task"] == toy_task
    assert manifest["selection_config_sha256"] == cfg.digest()
    assert cfg.source == str(tmp_path / "mytasks" / f"{toy_task}.yaml")
    table = load_table(out)
    cutflow = json.loads((out / "cutflow.json").read_text())
    assert "toy_muons" in json.dumps(cutflow)
    assert manifest["rows"] == len(table) > 0
    labels = set(table["label"].to_numpy().tolist())
    assert labels == {0, 1}  # jpsi, upsilon: classes from the dataset names
    results = read_hists(out)
    mass = results["hists"]["mass"]
    assert mass.axes["mass"].size == 60  # the toy YAML's binning
    assert mass.sum().value == pytest.approx(table["weight"].to_numpy().sum(), rel=1e-6)

    from eventlens.plotting.labels import mass_axis_label

    assert mass_axis_label(toy_task) == r"$m_{\mu\mu}^{toy}$ [GeV]"


def test_register_task_in_code(toy_task, toy_samples, tmp_path):
    from eventlens.pipeline.select import run_selection

    task = importlib.import_module(toy_task).TASK
    assert toy_task not in registry.task_names()
    registry.register_task(task)
    try:
        assert registry.get_task(toy_task) is task and toy_task in registry.task_names()
        with pytest.raises(ConfigError, match="already exists"):
            registry.register_task(registry.get_task("dtw"))
        fs = json.loads(_fileset(toy_samples, tmp_path).read_text())
        res = run_selection(toy_task, fs, tmp_path / "out", status=False)
        assert res.manifest["task"] == toy_task and res.manifest["rows"] > 0
    finally:
        registry.unregister_task(toy_task)
    assert toy_task not in registry.task_names()


def test_registry_errors_are_one_line(monkeypatch, capsys, tmp_path):
    known = ", ".join(registry.task_names())
    with pytest.raises(ConfigError, match=rf"^unknown task 'ttH'; known tasks: {known}$"):
        registry.get_task("ttH")
    monkeypatch.setenv(registry.TASKS_ENV, "no_such_task_module_xyz")
    with pytest.raises(ConfigError, match=r"\$EVENTLENS_TASKS: cannot import task module"):
        registry.task_names()
    assert main(["select", "dtw", "--fileset", "x", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eventlens: error: $EVENTLENS_TASKS: cannot import")
    assert err.count("\n") == 1
    monkeypatch.setenv(registry.TASKS_ENV, "json")  # importable, but not a task module
    with pytest.raises(ConfigError, match="module 'json' defines no TASK"):
        registry.task_names()


def test_every_task_module_is_found_and_complete():
    """Discovery: each processors/ module with a TASK, named after it, with a YAML."""
    tasks = registry.all_tasks()
    modules = sorted(
        p.stem for p in (REPO / "processors").glob("*.py") if "\nTASK = Task(" in p.read_text()
    )
    assert list(tasks) == modules and {"dhjw", "dimuon", "dtw", "hgg"} <= set(modules)
    for name, task in tasks.items():
        assert task.name == name and task.axis_label and task.mass_definition
        assert registry.config_path(name) == REPO / "configs" / "selection" / f"{name}.yaml"
        assert registry.load_config(name).task == name


def test_the_command_line_offers_the_registry(capsys):
    from eventlens.demo import demo_tasks

    with pytest.raises(SystemExit):
        main(["select", "--help"])
    assert "{" + ",".join(registry.task_names()) + "}" in capsys.readouterr().out
    # the demo needs a compact-CNN training config: every task that has one
    assert set(demo_tasks()) == {
        t for t in registry.task_names()
        if (REPO / "configs" / "train" / f"{t}_compact_cnn.yaml").exists()
    } >= {"dtw"}
