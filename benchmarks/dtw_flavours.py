"""Lepton flavours the DTW selection keeps, per generated process.

Reads a ``make-samples dtw`` folder (its fileset) and the object table that
``eventlens select dtw`` wrote from it, and counts, for the selected events of
each dataset, how many have exactly one selected electron, one selected muon,
or two or more selected leptons (ee, μμ, eμ), using the lepton definitions of
the selection config the table was made with (``configs/selection/dtw.yaml``:
pT > 20 GeV, tight ID, isolation, η acceptance and gap, impact parameters).
The events with ≥ 1 such lepton must equal the cutflow's "leptons" count —
checked, so the numbers here are the selection's own.

    .venv/bin/python benchmarks/dtw_flavours.py SAMPLES_DIR SELECTED_DIR [-o out.json]

Prints a table and writes JSON (default benchmarks/results/dtw_flavours.json).
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("benchmarks"):
    del sys.path[0]

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import uproot

from eventlens.io import write_json

HERE = Path(__file__).resolve().parent
log = logging.getLogger("benchmarks.dtw_flavours")


def _good(ev: ak.Array, block: dict[str, Any], prefix: str) -> ak.Array:
    pt, eta = ev[f"{prefix}_pt"], ev[f"{prefix}_eta"]
    ok = (pt > block["pt_min"]) & (abs(eta) < block["abs_eta_max"])
    if block.get("eta_gap") is not None:
        lo, hi = block["eta_gap"]
        ok = ok & ~((abs(eta) >= lo) & (abs(eta) <= hi))
    ident = block["id"]
    branch = ev[f"{prefix}_{ident['branch']}"]
    ok = ok & (branch >= ident["min"] if ident.get("min") is not None else branch)
    iso = block["isolation"]
    ok = ok & (ev[f"{prefix}_{iso['branch']}"] < iso["max"])
    if block.get("dxy_max") is not None:
        ok = ok & (abs(ev[f"{prefix}_dxy"]) < block["dxy_max"])
    if block.get("dz_max") is not None:
        ok = ok & (abs(ev[f"{prefix}_dz"]) < block["dz_max"])
    return ak.sum(ok, axis=1)


def flavours(samples: Path, selected: Path) -> dict[str, Any]:
    manifest = json.loads((selected / "manifest.json").read_text())
    # the resolved config (working points of its era filled in), not the YAML file
    config = manifest["selection_config"]
    fileset = json.loads((samples / "fileset_dtw.json").read_text())
    cutflow = manifest["cutflow"]
    out: dict[str, Any] = {}
    for dataset, entry in fileset.items():
        (path, _), = entry["files"].items()
        with uproot.open(path) as f:
            ev = f["Events"].arrays(filter_name=["event", "Muon_*", "Electron_*"])
        n_mu = _good(ev, config["objects"]["muon"], "Muon")
        n_el = _good(ev, config["objects"]["electron"], "Electron")
        with_lepton = int(ak.sum((n_mu + n_el) >= 1))
        expected = _passed(cutflow[dataset], "leptons")
        if with_lepton != expected:
            raise SystemExit(f"{dataset}: {with_lepton} events with a lepton here, the cutflow "
                             f"says {expected}: the lepton definitions differ")
        tables = sorted((selected / "tables").glob(f"{dataset}__*.parquet"))
        kept = np.concatenate([pq.read_table(t, columns=["event"])["event"].to_numpy()
                               for t in tables])
        index = np.searchsorted(ak.to_numpy(ev.event), kept)
        mu, el = ak.to_numpy(n_mu)[index], ak.to_numpy(n_el)[index]
        n = len(kept)
        counts = {
            "e": int(np.sum((el == 1) & (mu == 0))),
            "mu": int(np.sum((mu == 1) & (el == 0))),
            "ee": int(np.sum((el >= 2) & (mu == 0))),
            "mumu": int(np.sum((mu >= 2) & (el == 0))),
            "emu": int(np.sum((el >= 1) & (mu >= 1))),
        }
        out[dataset] = {
            "read": len(ev),
            "selected": n,
            "efficiency": n / len(ev),
            "xsec_pb": entry["metadata"]["xsec"],
            "counts": counts,
            "shares": {k: v / n for k, v in counts.items()} if n else {},
            "dilepton_share": (counts["ee"] + counts["mumu"] + counts["emu"]) / n if n else None,
        }
    return out


def _passed(flow: dict[str, Any], step: str) -> int:
    """Events that passed ``step`` in a manifest cutflow entry."""
    try:
        return int(flow["steps"][step]["passed"])
    except KeyError:
        raise SystemExit(f"no step {step!r} in the cutflow {flow}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", type=Path, help="make-samples dtw folder (fileset_dtw.json)")
    parser.add_argument("selected", type=Path, help="eventlens select dtw output folder")
    parser.add_argument("-o", "--output", type=Path,
                        default=HERE / "results" / "dtw_flavours.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = flavours(args.samples, args.selected)
    log.info("%-12s %6s %6s %6s  %6s %6s %6s %6s %6s  %s", "dataset", "read", "kept", "eff",
             "1e", "1mu", "ee", "mumu", "emu", "dilepton share")
    for name, r in result.items():
        s = r["shares"]
        log.info("%-12s %6d %6d %5.1f%%  %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%%  %5.1f%%", name,
                 r["read"], r["selected"], 100 * r["efficiency"], 100 * s["e"], 100 * s["mu"],
                 100 * s["ee"], 100 * s["mumu"], 100 * s["emu"], 100 * r["dilepton_share"])
    write_json(args.output, {"samples": str(args.samples), "selected": str(args.selected),
                             "datasets": result})
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
