"""Generator building blocks that need no Pythia run: registry, chunking, RNG, index helpers."""

from __future__ import annotations

import numpy as np
import pytest

from eventlens.errors import ConfigError
from eventlens.generate.config import DetectorConfig
from eventlens.generate.jets import btag_mixture_fraction, resolution
from eventlens.generate.particles import has_quark, is_hadron, pairs_within_events
from eventlens.generate.randoms import EventRandom, derive_seed, stream_key
from eventlens.generate.registry import load_registry, settings_hash
from eventlens.generate.run import plan_chunks
from eventlens.generate.validate import peak

ALL_PROCESSES = {"dy", "dy_lowmass", "jpsi", "psi2s", "upsilon", "wjets", "ttbar", "higgs_4mu",
                 "hgg", "diphoton", "gjet", "dy_ee", "wjets_enu", "ttbar_enu", "ttbar_dilep",
                 "minbias"}


def test_registry_has_every_process_and_task():
    reg = load_registry()
    assert set(reg.processes) >= ALL_PROCESSES
    assert reg.task("dimuon") == ("dy", "dy_lowmass", "jpsi", "psi2s", "upsilon")
    assert reg.task("dtw") == ("dy", "dy_ee", "wjets", "wjets_enu", "ttbar", "ttbar_enu",
                               "ttbar_dilep")
    assert reg.task("dhjw") == ("dy", "higgs_4mu", "jpsi", "wjets")
    assert reg.task("hgg") == ("hgg", "diphoton", "gjet")
    assert len(reg.get("ttbar").instances) == 2  # both charge assignments
    assert reg.get("jpsi").rapidity_veto is not None
    assert any(s.startswith("PDF:pSet") for s in reg.tune)


@pytest.mark.parametrize("task", ["dimuon", "dtw", "dhjw", "hgg"])
def test_every_task_process_has_a_class_in_the_selection_config(task):
    """make-samples' datasets are labelled by process name: each must map to a class."""
    from eventlens.processors.labels import dataset_class
    from eventlens.processors.tasks import load_config

    cfg = load_config(task)
    if cfg.labels.source != "metadata":
        return  # labelled by mass window (dimuon)
    for process in load_registry().task(task):
        assert dataset_class(process, {"process": process}, cfg) is not None, process


def test_unknown_process_and_task_list_the_known_ones():
    reg = load_registry()
    with pytest.raises(ConfigError, match=r"unknown process 'zprime'.*dy, dy_lowmass, jpsi"):
        reg.get("zprime")
    with pytest.raises(ConfigError, match=r"unknown task 'susy'.*dimuon, dtw, dhjw, hgg"):
        reg.task("susy")


@pytest.mark.parametrize(("body", "message"), [
    ("processes: {a: {label: x}}", "exactly one of 'settings' or 'instances'"),
    ("processes: {a: {settings: [1, 2]}}", "list of Pythia setting strings"),
    ("processes: {a: {settings: [x = 1], colour: red}}", r"unknown key\(s\) \['colour'\]"),
    ("processes: {a: {settings: [x = 1]}}\ntasks: {t: [b]}", r"tasks.t names unknown process"),
    ("processes: [", "not valid YAML"),
])
def test_bad_registry_names_file_and_key(tmp_path, body, message):
    path = tmp_path / "processes.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message) as err:
        load_registry(path)
    assert str(path) in str(err.value)


def test_missing_registry_says_how_to_point_at_one(tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTLENS_PROCESSES", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="EVENTLENS_PROCESSES"):
        load_registry()


def test_settings_hash_is_stable_and_order_independent():
    reg = load_registry()
    settings = reg.settings_for(reg.get("dy"))
    assert settings_hash(settings) == settings_hash(dict(reversed(list(settings.items()))))
    changed = {**settings, "tune": [*settings["tune"], "PDF:pSet = 13"]}
    assert settings_hash(changed) != settings_hash(settings)


@pytest.mark.parametrize(("events", "chunk", "n_chunks"), [
    (1, 5000, 1), (10, 5000, 1), (3, 1, 3), (1999, 5000, 1), (2000, 5000, 2), (3000, 5000, 2),
    (10000, 5000, 4), (12001, 5000, 4), (22000, 5000, 8), (60000, 5000, 12), (1000, 100, 12),
    (80, 40, 2),
])
def test_chunks_cover_the_events_once(events, chunk, n_chunks):
    """The chunk count depends on the sample only (issue 13: not on --jobs)."""
    chunks = plan_chunks(events, chunk)
    assert len(chunks) == n_chunks
    numbers = np.concatenate([np.arange(c.first_event, c.first_event + c.n_events) for c in chunks])
    np.testing.assert_array_equal(numbers, np.arange(1, events + 1))
    assert max(c.n_events for c in chunks) - min(c.n_events for c in chunks) <= 1


def test_seeds_are_valid_for_pythia_and_independent():
    seeds = {derive_seed(7, stream_key("dy"), chunk, 0) for chunk in range(200)}
    assert len(seeds) == 200
    assert all(1 <= s <= 900_000_000 for s in seeds)
    assert derive_seed(7, stream_key("dy"), 0, 0) != derive_seed(7, stream_key("jpsi"), 0, 0)


def test_event_random_does_not_depend_on_batching():
    counts = np.array([2, 0, 3, 1, 4])
    numbers = np.arange(101, 106)
    whole = EventRandom(5, 9, numbers).uniform(counts, 2)
    first = EventRandom(5, 9, numbers[:2]).uniform(counts[:2], 2)
    rest = EventRandom(5, 9, numbers[2:]).uniform(counts[2:], 2)
    np.testing.assert_array_equal(whole, np.concatenate([first, rest]))
    other_seed = EventRandom(6, 9, numbers).uniform(counts, 2)
    assert not np.array_equal(whole, other_seed)


def test_pairs_within_events_matches_brute_force():
    rng = np.random.default_rng(1)
    ev_a = np.sort(rng.integers(0, 6, 15))
    ev_b = np.sort(rng.integers(0, 6, 40))
    ia, ib = pairs_within_events(ev_a, ev_b, 6)
    brute = {(i, j) for i in range(15) for j in range(40) if ev_a[i] == ev_b[j]}
    assert set(zip(ia.tolist(), ib.tolist(), strict=True)) == brute
    assert len(ia) == len(brute)


def test_pdg_classification():
    ids = np.array([511, -521, 5122, 553, 411, -4122, 443, 211, 130, 310, 2212, 2101, 5, 13, 22,
                    9940003, 541])
    assert is_hadron(ids).tolist() == [True] * 11 + [False] * 5 + [True]
    assert has_quark(ids, 5).tolist() == [True, True, True, True] + [False] * 12 + [True]
    assert has_quark(ids, 4).tolist() == [False] * 4 + [True, True, True] + [False] * 10


def test_btag_mixture_gives_the_designed_efficiency():
    cfg = DetectorConfig().jet
    rng = np.random.default_rng(3)
    for eff in cfg.btag_efficiency:
        f = btag_mixture_fraction(eff, cfg.btag_wp, cfg.btag_concentration)
        exact = f * (1 - cfg.btag_wp**cfg.btag_concentration) + (1 - f) * (
            1 - cfg.btag_wp) ** cfg.btag_concentration
        assert exact == pytest.approx(eff, rel=1e-12)
        u = rng.random((200_000, 2))
        root = u[:, 1] ** (1 / cfg.btag_concentration)
        score = np.where(u[:, 0] < f, root, 1 - root)
        assert (score > cfg.btag_wp).mean() == pytest.approx(eff, abs=0.003)


def test_jet_resolution_grows_at_low_pt_and_large_eta():
    cfg = DetectorConfig().jet
    pts = np.array([20.0, 50.0, 200.0])
    central = resolution(cfg, pts, np.zeros(3))
    assert np.all(np.diff(central) < 0)
    forward, endcap = resolution(cfg, pts, np.full(3, 3.5)), resolution(cfg, pts, np.full(3, 1.8))
    assert forward[0] > endcap[0] > central[0]
    assert 0.12 < central[1] < 0.2  # ~15 % at 50 GeV, CMS-like


def test_peak_estimator_ignores_a_one_sided_tail():
    rng = np.random.default_rng(2)
    core = rng.normal(91.19, 1.5, 2000)
    tail = 91.19 - rng.exponential(8.0, 600)
    estimate = peak(np.concatenate([core, tail]), 76, 106, half_width=2.0)
    assert estimate == pytest.approx(91.19, abs=0.3)
    assert peak(np.array([1.0, 2.0]), 0, 3) is None


def test_pileup_precedence_and_validation(tmp_path):
    from eventlens.generate.pileup import pileup_settings

    path = tmp_path / "processes.yaml"
    path.write_text("pileup: {mu: 20, library_events: 500}\n"
                    "processes:\n  a: {settings: [x = 1]}\n  b: {settings: [x = 1], pileup: 0}\n")
    reg = load_registry(path)
    assert pileup_settings(reg, reg.get("a").pileup, None).mu == 20  # the shared default
    assert pileup_settings(reg, reg.get("b").pileup, None).mu == 0  # the process's own
    chosen = pileup_settings(reg, reg.get("b").pileup, 35.0)  # --pileup wins
    assert chosen.mu == 35 and chosen.library_events == 500
    assert pileup_settings(reg, None, 0.0).to_dict() == {"mu": 0.0}  # off: nothing else hashed
    for body, message in [("pileup: {mu: -1}", "mean number of interactions >= 0"),
                          ("pileup: {mu: 5, colour: red}", r"unknown key\(s\) \['colour'\]"),
                          ("pileup: {library_events: 0}", "positive integer")]:
        path.write_text(body + "\nprocesses: {a: {settings: [x = 1]}}\n")
        with pytest.raises(ConfigError, match=message):
            load_registry(path)
