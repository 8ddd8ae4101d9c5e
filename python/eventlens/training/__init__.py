"""Training, evaluation and comparison of the registry's models on object tables.

Small modules, one job each:

* :mod:`.config` — the YAML training config, validated;
* :mod:`.table` — read an object table (Parquet + manifest) into flat arrays;
* :mod:`.split` — the train/val/test split by a hash of the event identity;
* :mod:`.augment` — φ rotation and η reflection of the objects;
* :mod:`.data` — gather, augment, draw (C++ renderer) or pad, to tensors;
* :mod:`.setup` — table + split + model + loss weights for a run;
* :mod:`.loop` — the training loop with checkpoints and resume (:func:`.loop.fit`);
* :mod:`.metrics`, :mod:`.plots`, :mod:`.evaluate` — test-split metrics and figures;
* :mod:`.compare` — the results table across runs;
* :mod:`.toy` — synthetic tables for tests and benchmarks.

``eventlens train CONFIG.yaml`` is the command-line entry point.
"""
