"""coffea processors of eventlens (installed as ``eventlens.processors``): the physics.

What a physicist reads, and nothing else — no Runner, no fileset, no output
folder (those are :mod:`eventlens.pipeline`'s):

``dimuon``, ``dtw``, ``dhjw``, ``hgg``   the tasks: cuts, mass definition (+ YAML config)
``registry``   the task registry: every module here defining ``TASK`` is a task, its
               cuts in ``configs/selection/<task>.yaml`` (schema and loader:
               :mod:`eventlens.config.selection`)
``base``       :class:`base.TaskProcessor`, the ``ProcessorABC`` every task runs in
``inference``  :class:`inference.InferenceProcessor`: the same plus a model in the loop
``flavour``    NanoAOD flavours (Run 2 UL, Run 3 v12/v15): what is read from which branch
``inputs``     the branches a task reads, from NanoEvents or straight from uproot
``task``       what a task is, and the steps every task shares (:func:`task.analyse`)
``dataquality``  collision data only: the lumi mask and trigger steps (``data:`` block)
``systematics``  scale-factor weights and shifted objects of the measurement
``measurement``  the histogram contract: process × region × variation × observable
``cuts``, ``kinematics``, ``labels``, ``weights``, ``cutflow``   building blocks
``hists``      the weighted histograms every task fills

Importing this package is cheap; coffea is imported by the modules that need it.
"""
