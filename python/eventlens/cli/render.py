"""``eventlens render``: draw the events of a NanoAOD file as images (.npz)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..io import write_json, write_npz
from ..render import RenderConfig
from ..render.config import KNOWN_CHANNELS

log = logging.getLogger(__name__)


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


def run(args: argparse.Namespace) -> int:
    import awkward as ak

    from ..nanoaod import open_events
    from ..objects import objects_from_nanoevents
    from ..render import render_with_stats

    config = _config(args)
    events = open_events(args.input, entry_stop=args.max_events)
    objects = objects_from_nanoevents(events)
    images, stats = render_with_stats(objects, config)
    ids = {
        k: ak.to_numpy(events[k])
        for k in ("run", "luminosityBlock", "event")
        if k in ak.fields(events)
    }
    write_npz(args.output, images=images, **ids)
    write_json(
        Path(args.output).with_suffix(".json"),
        {
            "input": str(args.input),
            "render_config": config.to_dict(),
            "render_config_digest": config.digest(),
            "stats": stats.__dict__,
        },
    )
    log.info(
        "%d events -> %s %s (%d objects drawn, %d skipped)",
        len(images),
        args.output,
        images.shape,
        stats.drawn,
        stats.skipped,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render", help="draw the events of a NanoAOD file as images (.npz)", description=__doc__
    )
    p.add_argument("input", type=Path, help="NanoAOD ROOT file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .npz")
    p.add_argument("--size", type=int, default=64, help="canvas size in pixels (default 64)")
    p.add_argument(
        "--channels",
        default="electron,muon,photon,jet,bjet,met",
        help=f"comma-separated channels from {','.join(KNOWN_CHANNELS)}",
    )
    p.add_argument("--dtype", choices=("float32", "uint8"), default="uint8")
    p.add_argument("--overlap", choices=("max", "add", "over"), default="max")
    p.add_argument("--seed-rgb", action="store_true", help="the seed's 224x224 RGB picture")
    p.add_argument("--max-events", type=int, default=None)
    p.set_defaults(func=run)
