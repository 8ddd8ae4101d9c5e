"""``eventlens render``: draw the events of a NanoAOD file as images (.npz + a .json record).

Two ways to draw:

* ``--model NAME|PATH``: as that model sees events — its task's selection and drawing
  rules (tight leptons counted, ``draw_pt_min`` leptons drawn, cleaned jets, the
  flavour's MET; :func:`eventlens.load_model`) and its card's render config.  Only the
  events the selection keeps are drawn.  Use this for pictures meant for a model.
* otherwise: *every* NanoAOD object of every event (electrons, muons, photons, jets,
  MET, whatever their ID), with the picture given by the options — for looking at
  events, not what any shipped model was trained on.

The output is written atomically; an existing one is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..io import write_json, write_npz
from ..render import RenderConfig
from ..render.config import KNOWN_CHANNELS

log = logging.getLogger(__name__)

#: The picture options and their defaults (without --model).
PICTURE = {"size": 64, "channels": "electron,muon,photon,jet,bjet,met", "dtype": "uint8",
           "overlap": "max", "seed_rgb": False}


def _config(args: argparse.Namespace) -> RenderConfig:
    if args.seed_rgb:
        return RenderConfig.seed_rgb()
    return RenderConfig(
        height=args.size,
        width=args.size,
        channels=tuple(args.channels.split(",")),
        dtype=args.dtype,
        overlap=args.overlap,
    )


def _check_options(args: argparse.Namespace) -> None:
    given = [f"--{k.replace('_', '-')}" for k in PICTURE if getattr(args, k) is not None]
    if args.model is not None and given:
        raise ValueError(
            f"--model draws with the model's own render config: drop {', '.join(given)}"
        )


def _objects(args: argparse.Namespace, events: Any) -> tuple[Any, Any, RenderConfig, dict]:
    """The objects to draw, the events they belong to, the render config, and notes."""
    import awkward as ak

    from ..objects import objects_from_nanoevents

    if args.model is None:
        for key, default in PICTURE.items():
            if getattr(args, key) is None:
                setattr(args, key, default)
        return objects_from_nanoevents(events), events, _config(args), {"drawn": "all objects"}
    from ..classifier import load_model

    model = load_model(args.model)
    objects = model.objects(events)
    keep = ~ak.to_numpy(ak.is_none(objects))
    config = model.card.render_config
    if config is None:
        raise ValueError(f"model {model.name!r} reads an object table, not images")
    notes = {"drawn": f"model {model.name}: task {model.card.task} selection and drawing rules",
             "model": model.path}
    return ak.drop_none(objects[keep]), events[keep], config, notes


def run(args: argparse.Namespace) -> int:
    import awkward as ak

    from ..nanoaod import open_events
    from ..render import render_with_stats

    for path in (Path(args.output), Path(args.output).with_suffix(".json")):
        if path.exists() and not args.overwrite:  # before reading anything
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    _check_options(args)
    events = open_events(args.input, entry_stop=args.max_events)
    objects, drawn_events, config, notes = _objects(args, events)
    images, stats = render_with_stats(objects, config)
    ids = {
        k: ak.to_numpy(drawn_events[k])
        for k in ("run", "luminosityBlock", "event")
        if k in ak.fields(drawn_events)
    }
    write_npz(args.output, images=images, **ids)
    write_json(
        Path(args.output).with_suffix(".json"),
        {
            "input": str(args.input),
            "events_read": len(events),
            "events_drawn": len(images),
            **notes,
            "render_config": config.to_dict(),
            "render_config_digest": config.digest(),
            "stats": stats.__dict__,
        },
    )
    log.info(
        "%d of %d events -> %s %s (%d objects drawn, %d skipped)",
        len(images),
        len(events),
        args.output,
        images.shape,
        stats.drawn,
        stats.skipped,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="draw the events of a NanoAOD file as images (.npz)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, help="NanoAOD ROOT file")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output .npz (images and run/luminosityBlock/event); a .json beside it "
                   "records the render config and where every object went")
    p.add_argument("--model", metavar="NAME|PATH", default=None,
                   help="draw as this model sees events (a shipped name, e.g. dtw_compact_cnn, "
                   "or an exported .onnx): its selection, drawing rules and render config")
    p.add_argument("--size", type=int, default=None,
                   help=f"canvas height and width in pixels (default {PICTURE['size']})")
    p.add_argument("--channels", default=None,
                   help="comma-separated image channels, one per object kind, from "
                   f"{','.join(KNOWN_CHANNELS)} (default {PICTURE['channels']})")
    p.add_argument("--dtype", choices=("float32", "uint8"), default=None,
                   help="pixel type: uint8 0-255 (compact) or float32 0-1 (default uint8)")
    p.add_argument("--overlap", choices=("max", "add", "over"), default=None,
                   help="where circles overlap: per-channel maximum, saturating sum, or the "
                   "later object paints over (default max)")
    p.add_argument("--seed-rgb", action="store_true", default=None,
                   help="the seed papers' 224x224 RGB picture on white instead (overrides "
                   "--size/--channels/--dtype/--overlap)")
    p.add_argument("--max-events", type=int, default=None, metavar="N",
                   help="read only the first N events of the file (default: all)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output (otherwise an error)")
    p.set_defaults(func=run)
