"""Development tooling of the eventlens repository (not installed with the package).

``condor_pool``  build, start and stop a personal HTCondor pool on 127.0.0.1 for the
                 tests and for development (``devtools/condor-pool.sh``).
"""
