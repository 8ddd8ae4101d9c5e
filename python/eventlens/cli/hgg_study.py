"""``eventlens hgg-study --table DIR -o OUT``: FCN vs adversarial (ANN) H → γγ classifiers.

Trains the plain classifier, the adversarial one for every λ of the scan and
(unless --no-image) the compact CNN on photon images with and without the
adversary, all on the same table and split; measures AUC, the background
m_γγ sculpting (Jensen–Shannon divergence before/after a cut at ε_S = 50, 30,
10 %) and the background rejection; then the background fit of every
category (ε_S = 70, 50, 30, 10 %): the spurious signal a smooth-function fit
finds in the background-only simulation after the cut, and the expected
significance at --lumi with it as a systematic (eventlens.adversarial.spurious;
the background simulation is --fit-table, an independent background-only
table, else the test split).  Exports the ANN classifier to ONNX with its
model card; writes OUT/results.json, OUT/results.md and OUT/figures/*.png, and
with --publish DIR copies those into DIR (the docs).  Runs already finished
with the same configuration are reused.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..adversarial.study import StudyPlan, parse_lambdas, run_study
    from ..resources import config_dir

    shipped_train = config_dir() / "train"
    limits = {"train": args.max_train} if args.max_train else None
    image_limits = {"train": args.image_max_train} if args.image_max_train else None
    plan = StudyPlan(
        fcn_config=args.fcn_config or shipped_train / "hgg_fcn.yaml",
        ann_config=args.ann_config or shipped_train / "hgg_ann.yaml",
        lambdas=parse_lambdas(args.lambdas),
        image_config=None
        if args.no_image
        else args.image_config or shipped_train / "hgg_ann_cnn.yaml",
        epochs=args.epochs,
        image_epochs=args.image_epochs,
        limits=limits,
        image_limits=image_limits,
        export=None if args.no_export else args.export,
        fit=not args.no_fit,
        fit_table=args.fit_table,
        lumi_pb=args.lumi,
        fit_normalisation=args.fit_normalisation,
    )
    results = run_study(args.table, args.output, plan,
                        progress=not args.no_progress and sys.stderr.isatty(),
                        overwrite=args.overwrite)
    s = results["summary"]
    log.info("AUC FCN %.4f, ANN %.4f (loss %.4f); JSD at eps_S = 50 %%: FCN %.4g, ANN %.4g "
             "(ratio %s); target met: %s", s["auc"]["baseline"], s["auc"]["adversarial"],
             s["auc"]["loss"], s["jsd_0.5"]["baseline"], s["jsd_0.5"]["adversarial"],
             "-" if s["jsd_0.5"]["ratio"] is None else f"{s['jsd_0.5']['ratio']:.1f}",
             s["target"]["met"])
    if "fit_summary" in results:
        h = results["fit_summary"]["hypothesis"]
        log.info("background fit: %s vs %s, hypothesis holds: %s", h["adversarial"],
                 h["baseline"], h.get("hypothesis_holds"))
    if args.publish is not None:
        from ..adversarial.study import publish

        for path in publish(args.output, args.publish):
            log.info("published %s", path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hgg-study", help="FCN vs adversarial H→γγ classifier: λ scan, sculpting",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=Path, required=True, help="hgg object table (eventlens select)")
    p.add_argument("-o", "--output", type=Path, required=True, help="study folder")
    p.add_argument("--fcn-config", type=Path, default=None,
                   help="training config of the plain classifier (default: the shipped "
                   "train/hgg_fcn.yaml)")
    p.add_argument("--ann-config", type=Path, default=None,
                   help="training config of the adversarial classifier (default: the shipped "
                   "train/hgg_ann.yaml)")
    p.add_argument("--image-config", type=Path, default=None,
                   help="training config of the image variant (default: the shipped "
                   "train/hgg_ann_cnn.yaml)")
    p.add_argument("--lambdas", nargs="+", default=["0,1,3,10,30"],
                   help="λ values of the scan (0 and the config's λ are always included)")
    p.add_argument("--epochs", type=int, default=None, help="override training.epochs (tables)")
    p.add_argument("--image-epochs", type=int, default=None, help="override epochs (CNN)")
    p.add_argument("--max-train", type=int, default=None, help="cap training events (tables)")
    p.add_argument("--image-max-train", type=int, default=None, help="cap training events (CNN)")
    p.add_argument("--no-image", action="store_true", help="skip the image-based variant")
    p.add_argument("--export", type=Path, default=Path("onnx_models/hgg_ann.onnx"),
                   help="ONNX file for the ANN classifier (card NAME.json beside it)")
    p.add_argument("--no-export", action="store_true", help="do not export the ANN classifier")
    p.add_argument("--fit-table", type=Path, default=None,
                   help="independent hgg object table whose background events are the "
                        "background simulation of the fit (default: the test split)")
    p.add_argument("--lumi", type=float, default=138000.0,
                   help="target luminosity in pb^-1 for yields and significance (default "
                        "138000)")
    p.add_argument("--fit-normalisation", choices=("table", "sample"), default="table",
                   help="scale each background dataset of the fit table to the same "
                        "dataset's yield in the training table (table, default) or keep "
                        "its own sigma*L weights (sample)")
    p.add_argument("--no-fit", action="store_true", help="skip the background fits")
    p.add_argument("--publish", type=Path, default=None,
                   help="copy results.json, results.md and figures/*.png into this folder "
                        "(e.g. docs/hgg_adversarial)")
    p.add_argument("--overwrite", action="store_true",
                   help="retrain run folders that hold a different or unfinished run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
