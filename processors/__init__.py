"""coffea processors of eventlens (installed as ``eventlens.processors``).

Read top to bottom, a selection run is:

``select``     the driver behind ``eventlens select`` (:func:`select.run_selection`)
``fileset``    loading coffea filesets, checking each file before processing
``registry``   the task registry: every module here defining ``TASK`` is a task, its
               cuts in ``configs/selection/<task>.yaml`` (schema and loader:
               :mod:`eventlens.config.selection`)
``base``       :class:`base.TaskProcessor`, the ``ProcessorABC`` all tasks share
``inputs``     the branches a task reads, from NanoEvents or straight from uproot
``task``       what a task is, and the steps every task shares (:func:`task.analyse`)
``dimuon``, ``dtw``, ``dhjw``, ``hgg``   the four tasks' selections
``cuts``, ``kinematics``, ``labels``, ``weights``, ``cutflow``   building blocks
``hists``, ``table``   the outputs: weighted histograms, Parquet tables + manifest

Importing this package is cheap; coffea is imported by the modules that need it.
"""
