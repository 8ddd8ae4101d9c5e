"""processors.reuse: the shifted passes share the nominal pass's object steps, bit for bit.

The systematics re-run the selection on inputs where most collections are the
nominal arrays themselves; :func:`reusable` steps return the nominal results
for those.  These tests check the cache's rules and that a whole inference
chunk with every shape variation gives exactly what it gives without sharing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from eventlens.processors import base, reuse
from eventlens.processors.cutflow import finite_events
from eventlens.processors.cuts import good_objects

pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference:RuntimeWarning",
    "ignore:Branch Photon_mass already exists:RuntimeWarning",
    "ignore:Branch Photon_charge already exists:RuntimeWarning",
)


def test_reuse_by_identity_within_a_chunk_only():
    calls = []

    @reuse.reusable
    def double(a, factor):
        calls.append(1)
        return np.asarray(a) * factor

    a, b = np.arange(3), np.arange(3)
    double(a, 2)
    double(a, 2)
    assert len(calls) == 2  # no chunk active: plain calls
    with reuse.within_chunk():
        first = double(a, 2)
        assert double(a, 2) is first  # same array object, same plain value: shared
        double(b, 2)  # equal values, another array: computed
        double(a, 3)  # another plain value: computed
        assert len(calls) == 5
        with pytest.raises(ValueError, match="read-only"):
            first += 1  # a shared result cannot be edited in place
    with reuse.within_chunk():
        double(a, 2)  # a new chunk starts empty
    assert len(calls) == 6


def test_field_lists_are_keys_by_value():
    """cut_fields() builds a new list per call: equal lists must share."""
    coll = ak.Array([[{"pt": 1.0, "eta": np.nan}], []])
    with reuse.within_chunk():
        one = finite_events(coll, ["pt", "eta"])
        assert finite_events(coll, ["pt", "eta"]) is one
        assert finite_events(coll, ["pt"]) is not one
    assert one.tolist() == [False, True]


def test_objects_of_an_unchanged_collection_are_shared():
    from eventlens.processors.registry import load_config

    cfg = load_config("dtw")
    muons = ak.Array(
        [
            [
                {
                    "pt": 30.0,
                    "eta": 0.1,
                    "phi": 0.0,
                    "mass": 0.1,
                    "charge": 1,
                    "tightId": True,
                    "pfRelIso04_all": 0.01,
                    "dxy": 0.0,
                    "dz": 0.0,
                }
            ]
        ]
    )
    with reuse.within_chunk():
        a = good_objects(muons, cfg.objects["muon"])
        assert good_objects(muons, cfg.objects["muon"]) is a
        shifted = ak.with_field(muons, muons.pt * 1.01, "pt")
        assert good_objects(shifted, cfg.objects["muon"]) is not a


@pytest.mark.parametrize("sample", ["nano_tt_v12.root", "nano_dy.root"])
def test_inference_chunk_with_all_variations_is_identical_without_sharing(
    nanoaod_dir: Path, sample: str, monkeypatch
):
    """Real NanoAOD through the inference processor with every shape variation: the
    contract histograms (every variation) and the variation counts are the same whether
    the shifted passes share the nominal results or recompute everything."""
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    from eventlens.modelcard import load_model_card
    from eventlens.processors.inference import InferenceProcessor
    from eventlens.processors.registry import get_task, load_config
    from eventlens.resources import models_dir

    path = nanoaod_dir / sample
    if not path.exists():
        pytest.skip(f"{path} not found")
    model = models_dir() / "dtw_compact_cnn.onnx"
    card = load_model_card(model)
    cfg = load_config("dtw")
    proc = InferenceProcessor(get_task("dtw"), cfg, model, card, threads=1, shapes=True)
    assert proc.shapes, "the dtw config declares shape variations"

    def once() -> dict:
        events = NanoEventsFactory.from_root(
            {str(path): "Events"},
            schemaclass=NanoAODSchema,
            mode="eager",
            metadata={
                "dataset": "tt",
                "filename": str(path),
                "entrystart": 0,
                "entrystop": 200,
                "process": "ttbar",
            },
        ).events()
        return proc.process(events)

    shared = once()
    monkeypatch.setattr(base, "within_chunk", contextlib.nullcontext)
    alone = once()
    assert not shared.get("failures") and not alone.get("failures")
    assert shared["variations"] == alone["variations"]
    assert sum(c["selected"] for c in shared["variations"]["tt"].values()) > 0
    assert shared["measurement"].keys() == alone["measurement"].keys()
    for name, h in shared["measurement"].items():
        np.testing.assert_array_equal(
            h.values(flow=True), alone["measurement"][name].values(flow=True), err_msg=name
        )
        np.testing.assert_array_equal(
            h.variances(flow=True), alone["measurement"][name].variances(flow=True), err_msg=name
        )
