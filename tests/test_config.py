"""The one strict config loader (eventlens.config) and where configs are (eventlens.resources).

Every kind of config -- selection, training, adversary, render, table spec,
HTCondor -- is read by the same builder, so a bad file gives one line naming
the file and the key path, whatever the kind.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from conftest import REPO
from eventlens import config as elc
from eventlens.config import ConfigValueError, build, dump, load, read_yaml, setting
from eventlens.errors import ConfigError
from eventlens.resources import config_dir, cpp_dir, models_dir, shipped


# ---- the builder, on a small schema -----------------------------------------------
@dataclasses.dataclass(frozen=True)
class Inner:
    size: int
    scale: float = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Outer:
    name: str
    inner: Inner
    mode: Literal["a", "b"] = "a"
    flag: bool = False
    pair: tuple[float, float] = (0.0, 1.0)
    slots: tuple[tuple[str, int], ...] = ()
    epochs: int = setting(3, key="training.epochs")
    lam: float = setting(1.0, key="lambda")
    limits: dict[str, int | None] = setting(
        closed=True, default_factory=lambda: {"train": None, "test": None}
    )
    note: str | None = None
    source: str = setting("", source=True)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigValueError("training.epochs", f"= {self.epochs}, must be >= 1")


GOOD = {"name": "x", "inner": {"size": 2}}


def test_build_converts_and_fills_defaults():
    cfg = build(
        Outer,
        {
            **GOOD,
            "training": {"epochs": 5},
            "lambda": 2,
            "limits": {"train": 10},
            "slots": {"muon": 2, "jet": 4},  # a mapping for ordered pairs
            "pair": [1, "2e-3"],  # YAML 1.1 reads 2e-3 as text
            "flag": None,  # null: the default
        },
        source="f.yaml",
    )
    assert cfg.epochs == 5 and cfg.lam == 2.0 and isinstance(cfg.lam, float)
    assert cfg.limits == {"train": 10, "test": None}
    assert cfg.slots == (("muon", 2), ("jet", 4)) and cfg.pair == (1.0, 0.002)
    assert cfg.flag is False and cfg.source == "f.yaml" and cfg.inner == Inner(2, 1.0)
    assert dump(cfg) == {
        "name": "x",
        "inner": {"size": 2, "scale": 1.0},
        "mode": "a",
        "flag": False,
        "pair": [1.0, 0.002],
        "slots": [["muon", 2], ["jet", 4]],
        "training": {"epochs": 5},
        "lambda": 2.0,
        "limits": {"train": 10, "test": None},
        "note": None,
    }
    assert build(Outer, dump(cfg), source="f.yaml") == cfg


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GOOD, "nmae": 1}, "f.yaml: unknown key 'nmae' (allowed here: name, inner, mode,"),
        ({**GOOD, "inner": {"size": 1, "sise": 2}}, "f.yaml: unknown key 'inner.sise'"),
        ({**GOOD, "training": {"epoch": 1}}, "f.yaml: unknown key 'training.epoch' (allowed here"),
        ({**GOOD, "limits": {"val": 2}}, "f.yaml: unknown key 'limits.val' (allowed here: train"),
        ({"inner": {"size": 1}}, "f.yaml: missing required key 'name'"),
        ({"name": "x", "inner": {}}, "f.yaml: missing required key 'inner.size'"),
        ({**GOOD, "inner": {"size": 1.5}}, "f.yaml: 'inner.size' must be an integer, got 1.5"),
        ({**GOOD, "inner": {"size": True}}, "f.yaml: 'inner.size' must be an integer, got True"),
        ({**GOOD, "lambda": "big"}, "f.yaml: 'lambda' must be a number, got 'big'"),
        ({**GOOD, "flag": "yes"}, "f.yaml: 'flag' must be true or false, got 'yes'"),
        ({**GOOD, "mode": "c"}, "f.yaml: 'mode' must be one of ['a', 'b'], got 'c'"),
        ({**GOOD, "pair": [1]}, "f.yaml: 'pair' must have 2 entries, got [1]"),
        ({**GOOD, "slots": {"muon": "two"}}, "f.yaml: 'slots.muon' must be an integer, got 'two'"),
        ({**GOOD, "inner": 3}, "f.yaml: 'inner' must be a mapping, got int"),
        ({**GOOD, "training": {"epochs": 0}}, "f.yaml: 'training.epochs' = 0, must be >= 1"),
        ([1, 2], "f.yaml: the top level must be a mapping, got list"),
    ],
)
def test_build_errors_are_one_line_with_file_and_key(data, message):
    with pytest.raises(ConfigError) as err:
        build(Outer, data, source="f.yaml")
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_config_value_error_outside_a_file():
    with pytest.raises(ConfigError, match=r"^'training.epochs' = 0, must be >= 1$"):
        Outer(name="x", inner=Inner(1), epochs=0)


def test_read_yaml_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing.yaml: no such widget config$"):
        read_yaml(tmp_path / "missing.yaml", "widget config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid YAML \(") as err:
        read_yaml(bad)
    assert "\n" not in str(err.value)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: a config must be a YAML mapping, got list"):
        read_yaml(bad)
    bad.write_text("")
    assert read_yaml(bad) == {}
    bad.write_text("name: x\ninner: {size: 2}\n")
    assert load(Outer, bad).source == str(bad)


# ---- every kind of config: unknown key, wrong type, missing key --------------------
def _edited(shipped_file: Path, path: Path, edit: Any) -> None:
    """A shipped config with one edit, written to ``path``."""
    data = yaml.safe_load(shipped_file.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))


def _selection(path: Path, edit: Any) -> Any:
    from eventlens.processors.registry import config_path, load_config

    _edited(config_path("dimuon"), path, edit)
    return lambda: load_config("dimuon", path)


def _training(path: Path, edit: Any) -> Any:
    from eventlens.training.config import load_config

    _edited(config_dir() / "train" / "dtw_compact_cnn.yaml", path, edit)
    return lambda: load_config(path)


def _adversarial(path: Path, edit: Any) -> Any:
    from eventlens.adversarial.config import load as load_adversarial

    _edited(config_dir() / "train" / "hgg_ann.yaml", path, edit)
    return lambda: load_adversarial(path)


def _training_features(path: Path, edit: Any) -> Any:
    from eventlens.training.config import load_config

    def with_features(data: dict) -> None:
        data["features"] = {"slots": {"muon": 2, "jet": 4}, "features": ["pt", "eta"]}
        edit(data)

    _edited(config_dir() / "train" / "dtw_ffn.yaml", path, with_features)
    return lambda: load_config(path)


def _condor(path: Path, edit: Any) -> Any:
    from eventlens.condor import settings

    _edited(config_dir() / "condor.yaml", path, edit)
    return lambda: settings.load(path)


CASES = [
    # selection (configs/selection/*.yaml)
    (
        _selection,
        lambda d: d["objects"]["muon"].update(pt_mni=3),
        "unknown key 'objects.muon.pt_mni'",
    ),
    (
        _selection,
        lambda d: d["objects"]["muon"].update(pt_min="high"),
        "'objects.muon.pt_min' must be a number",
    ),
    (
        _selection,
        lambda d: d["labels"].pop("source"),
        "missing required key 'labels.source'",
    ),
    # training (configs/train/*.yaml)
    (
        _training,
        lambda d: d["training"]["optimiser"].update(learning_rate=1),
        "unknown key 'training.optimiser.learning_rate'",
    ),
    (
        _training,
        lambda d: d["training"].update(epochs="many"),
        "'training.epochs' must be an integer, got 'many'",
    ),
    (
        _training,
        lambda d: d["model"].pop("name"),
        "missing required key 'model.name'",
    ),
    (
        _training,
        lambda d: d["training"].update(batch_size=1),
        "'training.batch_size' = 1, must be >= 2",
    ),
    (
        _training,
        lambda d: d["split"].update(val=0.5),
        "'split.val' = 0.5 with train = 0.8",
    ),
    # its render block
    (
        _training,
        lambda d: d["render"].update(size=64),
        "unknown key 'render.size'",
    ),
    (
        _training,
        lambda d: d["render"].update(height=2),
        "'render.height' = 2, must be an integer in [4, 4096]",
    ),
    (
        _training,
        lambda d: d["render"].update(overlap="min"),
        "'render.overlap' must be one of ['max', 'add', 'over']",
    ),
    # its features block (table models)
    (
        _training_features,
        lambda d: d["features"].update(slot={}),
        "unknown key 'features.slot'",
    ),
    (
        _training_features,
        lambda d: d["features"]["slots"].update(tau=1),
        "'features.slots' has unknown object type(s) ['tau']",
    ),
    (
        _training_features,
        lambda d: d["features"].pop("features"),
        "missing required key 'features.features'",
    ),
    # the adversary block
    (
        _adversarial,
        lambda d: d["adversary"].update(lamda=1.0),
        "unknown key 'adversary.lamda'",
    ),
    (
        _adversarial,
        lambda d: d["adversary"].update({"lambda": "x"}),
        "'adversary.lambda' must be a number, got 'x'",
    ),
    (
        _adversarial,
        lambda d: d["adversary"].update({"lambda": -1}),
        "'adversary.lambda' = -1.0, must be >= 0",
    ),
    (
        _adversarial,
        lambda d: d["adversary"].update(hidden=[]),
        "'adversary.hidden' = [], need >= 1 layer",
    ),
    (
        _adversarial,
        lambda d: d["training"].update(epochs=2),
        "'training.epochs' = 2 leaves no joint epochs",
    ),
    # HTCondor (configs/condor.yaml)
    (
        _condor,
        lambda d: d["worker"].update(memroy="2GB"),
        "unknown key 'worker.memroy'",
    ),
    (
        _condor,
        lambda d: d["worker"].update(cores="two"),
        "'worker.cores' must be an integer, got 'two'",
    ),
    (
        _condor,
        lambda d: d["pool"].update(use="cloud"),
        "'pool.use' must be one of ['auto', 'local', 'system'], got 'cloud'",
    ),
]


@pytest.mark.parametrize(("kind", "edit", "message"), CASES)
def test_every_config_kind_names_file_and_key(tmp_path, kind, edit, message):
    path = tmp_path / "bad.yaml"
    run = kind(path, edit)
    with pytest.raises(ConfigError) as err:
        run()
    text = str(err.value)
    assert text.startswith(f"{path}: "), text
    assert message in text, text
    assert "\n" not in text


def test_shipped_configs_of_every_kind_load():
    from eventlens.adversarial.config import load as load_adversarial
    from eventlens.condor import settings
    from eventlens.processors.registry import load_config, task_names

    for task in task_names():
        assert load_config(task).task == task
    for path in sorted((config_dir() / "train").glob("*.yaml")):
        train, _ = load_adversarial(path)
        assert train.source == str(path)
    assert settings.load().source == str(config_dir() / "condor.yaml")


# ---- digests and layouts are unchanged -----------------------------------------------
# The shipped model cards' selection hashes: tests/test_eras.py (the digest covers the
# effective cuts only, issue 18).


def test_training_config_layout_round_trips():
    """to_dict writes the YAML layout (in the file's order) that from_dict reads back."""
    from eventlens.adversarial.config import AdversaryConfig, full_dict
    from eventlens.adversarial.config import load as load_adversarial
    from eventlens.training.config import TrainConfig

    for path in sorted((config_dir() / "train").glob("*.yaml")):
        train, adv = load_adversarial(path)
        layout = full_dict(train, adv)
        assert list(layout)[:6] == ["task", "table", "seed", "threads", "notes", "model"]
        assert set(yaml.safe_load(path.read_text())) <= set(layout), path
        again = TrainConfig.from_dict({k: v for k, v in layout.items() if k != "adversary"})
        assert again.to_dict() == train.to_dict()
        if adv is not None:
            assert AdversaryConfig.from_dict(layout["adversary"]) == adv


# ---- where configs are ------------------------------------------------------------
def test_config_dir_honours_the_environment(tmp_path, monkeypatch):
    from eventlens.condor import settings
    from eventlens.processors.registry import config_path, load_config

    monkeypatch.delenv("EVENTLENS_CONFIG_DIR", raising=False)
    assert config_dir() == REPO / "configs" == shipped("configs")
    assert models_dir() == REPO / "onnx_models" and cpp_dir() == REPO / "cpp"
    assert elc.config_dir is config_dir  # one function, re-exported
    (tmp_path / "selection").mkdir()
    text = (REPO / "configs" / "selection" / "dimuon.yaml").read_text()
    (tmp_path / "selection" / "dimuon.yaml").write_text(text.replace("pt_min: 3.0", "pt_min: 4.0"))
    (tmp_path / "condor.yaml").write_text("worker: {cores: 3}\n")
    monkeypatch.setenv("EVENTLENS_CONFIG_DIR", str(tmp_path))
    assert config_path("dimuon") == tmp_path / "selection" / "dimuon.yaml"
    assert load_config("dimuon").objects["muon"].pt_min == 4.0
    assert settings.load().worker.cores == 3
    with pytest.raises(ConfigError, match=r"dtw.yaml: no such selection config"):
        load_config("dtw")


def test_no_module_computes_the_repository_root():
    """Only eventlens.resources knows where the shipped folders are."""
    offenders = []
    for folder in ("python", "processors", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if path.name == "resources.py" and path.parent.name == "eventlens":
                continue
            if "parents[" in text or ("parent.parent" in text and "__file__" in text):
                offenders.append(str(path.relative_to(REPO)))
    # benchmarks read the shared data folder beside the repository, not a shipped one.
    assert set(offenders) <= {
        "python/eventlens/render/_cpp.py",  # include.parent.parent: the header's include root
        "benchmarks/render.py",
        "benchmarks/selection.py",
        "benchmarks/worker.py",  # builds a fresh venv from this checkout
        "benchmarks/install_size.py",  # pip-installs this checkout
    }, offenders
