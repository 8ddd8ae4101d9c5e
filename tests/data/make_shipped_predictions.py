"""Write ``shipped_predictions.npz``: the shipped ONNX models' outputs on fixed events.

The committed file was made with the code *before* the model-input rework
(main 31f56cd, issue 14: ``processors.infer_processor.model_input(card)`` and the
card as a dict, since replaced by ``ModelCard.model_input()`` as below);
``tests/test_modelio.py`` checks that the current code gives the same numbers.
Rerun it only for a deliberate change of a shipped model.  The events are stored in the file (flat
canonical object columns), so the test reads neither ROOT nor a generator:

* the first 24 events of the real CMS NanoAOD ``nano_tt_v12.root`` and 12 of
  ``nano_dimuon.root`` (all objects, :func:`eventlens.objects.objects_from_nanoevents`);
* 12 random events with every object type (photons for ``hgg_ann``: the real
  files have none), from a fixed seed.

Per model it stores ``NAME/logits`` (the graph's first output, fed through the
in-loop inference path: ``OnnxWrapper.predict`` with the card's preprocessing)
and ``NAME/probabilities`` (the graph's second output).

    python tests/data/make_shipped_predictions.py [OUT.npz]
"""

from __future__ import annotations

import sys
from pathlib import Path

import awkward as ak
import numpy as np

REPO = Path(__file__).resolve().parents[2]
NANOAOD = Path("/work/shared/data/nanoaod")


def fixed_events() -> ak.Array:
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    from eventlens.objects import make_objects, objects_from_nanoevents

    parts = []
    for name, n in (("nano_tt_v12.root", 24), ("nano_dimuon.root", 12)):
        events = NanoEventsFactory.from_root(
            {str(NANOAOD / name): "Events"}, schemaclass=NanoAODSchema, mode="eager",
            entry_stop=n,
        ).events()
        parts.append(ak.to_packed(objects_from_nanoevents(events)))
    rng = np.random.default_rng(20261124)
    counts = rng.integers(1, 9, 12)
    total = int(counts.sum())

    def jag(v: np.ndarray) -> ak.Array:
        return ak.unflatten(v, counts)

    parts.append(make_objects(
        jag(rng.integers(0, 5, total).astype(np.int32)),
        jag(np.exp(rng.uniform(np.log(10.0), np.log(300.0), total)).astype(np.float32)),
        jag(rng.uniform(-2.4, 2.4, total).astype(np.float32)),
        jag(rng.uniform(-np.pi, np.pi, total).astype(np.float32)),
        mass=jag(rng.uniform(0.0, 15.0, total).astype(np.float32)),
        charge=jag(rng.choice([-1, 1], total).astype(np.int32)),
        btag=jag(rng.uniform(0.0, 1.0, total).astype(np.float32)),
    ))
    return ak.to_packed(ak.concatenate(parts, axis=0))


def main(out: Path) -> None:
    from eventlens.inference import OnnxWrapper
    from eventlens.modelcard import load_model_card
    from eventlens.objects import OBJECT_FIELDS

    objects = fixed_events()
    offsets = np.asarray(ak.to_layout(objects).offsets.data, dtype=np.int64)
    data: dict[str, np.ndarray] = {"offsets": offsets}
    for field in OBJECT_FIELDS:
        data[f"objects/{field}"] = ak.to_numpy(ak.flatten(objects[field]))
    for onnx in sorted((REPO / "onnx_models").glob("*.onnx")):
        card = load_model_card(onnx)
        wrapper = OnnxWrapper(onnx, preprocess=card.model_input(), batch_size=32,
                              providers="cpu", threads=1)
        data[f"{onnx.stem}/logits"] = wrapper.predict(objects)
        x = card.model_input()(objects)
        data[f"{onnx.stem}/probabilities"] = wrapper.session.run(None, {wrapper.input_name: x})[1]
        data[f"{onnx.stem}/sha256"] = np.array(card.onnx.sha256)
    np.savez_compressed(out, **data)
    print(f"{out}: {out.stat().st_size} bytes, {len(offsets) - 1} events, "
          f"{offsets[-1]} objects")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name(
        "shipped_predictions.npz"))
