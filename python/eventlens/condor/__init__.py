"""Running eventlens' coffea processors on HTCondor.

Two ways, the two CMS analysts use:

* **Dask mode** (:mod:`.cluster`): a dask-jobqueue ``HTCondorCluster`` whose
  workers are HTCondor jobs, driven by coffea's ``DaskExecutor``
  (``eventlens select ... --executor condor --workers N``).
* **Batch mode** (:mod:`.batch`, :mod:`.job`, :mod:`.merge`): the fileset is
  cut into N jobs along coffea's own chunk boundaries, each job runs the
  processor with the Iterative executor and saves its output atomically, and
  ``eventlens merge`` adds the outputs, refusing to drop a missing job.

:mod:`.pool` finds a personal pool on 127.0.0.1 when no system HTCondor is
installed (building and starting one is development tooling:
``devtools/condor_pool.py`` in the repository, used by the tests).
Jobs run as an unprivileged user, so :mod:`.access` checks up front that
every path a job needs is usable by that user.
"""
