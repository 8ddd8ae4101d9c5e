#!/usr/bin/env bash
# Reproduce the shipped compact-CNN models in onnx_models/ from generated samples:
#   bash onnx_models/reproduce.sh [EVENTS_PER_PROCESS [EPOCHS]]   (defaults 5000, 12)
# Each step reuses what an earlier run produced (samples by settings hash,
# tables by their manifest, training runs by --resume).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
EPOCHS=${2:-12}
EL=.venv/bin/eventlens
for task in dtw dimuon dhjw; do
  $EL make-samples "$task" --events-per-process "$N" -o samples --seed 1 --jobs 2 --no-progress
done
for task in dtw dimuon dhjw; do
  [ -f "selected/$task/manifest.json" ] || \
    $EL select "$task" --fileset "samples/fileset_$task.json" -o "selected/$task" --executor futures --workers 2
  $EL train "configs/train/${task}_compact_cnn.yaml" --table "selected/$task" -o "runs/${task}_compact_cnn" --resume --epochs "$EPOCHS" --no-progress
  $EL export "runs/${task}_compact_cnn/best.pt" -o "onnx_models/${task}_compact_cnn.onnx"
done
