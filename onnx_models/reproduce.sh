#!/usr/bin/env bash
# Reproduce the shipped compact-CNN models (and dtw_ffn) in onnx_models/ from generated samples:
#   bash onnx_models/reproduce.sh [EPOCHS]   (default 30, with early stopping)
# Each step reuses what an earlier run produced (samples by settings hash,
# tables by their manifest, training runs by --resume).
#
# Samples: dimuon and dhjw share samples/ (5000 events per process); dtw has its
# own folder because its lepton + jet selection keeps few events of some
# processes (Drell-Yan ~11 %, W+jets ~26 %, tt̄ ~62 %), so it generates more of
# those: 60000 DY and 12000 of the others give ~6.3k / 3.1k / 7.4k selected events.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-30}
EL=.venv/bin/eventlens
$EL make-samples dtw -n 12000 --events dy=60000 -o samples/dtw --seed 1 --jobs 2 --no-progress
for task in dimuon dhjw; do
  $EL make-samples "$task" -n 5000 -o samples --seed 1 --jobs 2 --no-progress
done
for task in dtw dimuon dhjw; do
  fileset="samples/fileset_$task.json"
  [ "$task" = dtw ] && fileset="samples/dtw/fileset_dtw.json"
  [ -f "selected/$task/manifest.json" ] || \
    $EL select "$task" --fileset "$fileset" -o "selected/$task" --executor futures --workers 2
  $EL train "configs/train/${task}_compact_cnn.yaml" --table "selected/$task" -o "runs/${task}_compact_cnn" --resume --epochs "$EPOCHS" --no-progress
  $EL export "runs/${task}_compact_cnn/best.pt" -o "onnx_models/${task}_compact_cnn.onnx" --overwrite
done
# the object-table FFN for dtw: the analysis loop at ~3x the selection's cost
$EL train configs/train/dtw_ffn.yaml --table selected/dtw -o runs/dtw_ffn --resume --epochs "$EPOCHS" --no-progress
$EL export runs/dtw_ffn/best.pt -o onnx_models/dtw_ffn.onnx --overwrite
