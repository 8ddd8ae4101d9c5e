"""Adversarial decorrelation of a classifier from m_γγ (seed 001, issue 7).

A classifier that separates H → γγ from the diphoton continuum learns the
photons' kinematics, and those encode m_γγ; cutting on its score then carves
a bump into the background mass spectrum, which ruins the sideband fit of
the background.  An adversary that tries to predict m_γγ from the score
(background events only), trained against the classifier through a gradient
reversal layer (``L = L_clf − λ·L_adv``), removes that information.

Modules, one job each:

* :mod:`.grl` — the gradient reversal layer;
* :mod:`.posterior` — the adversary, a 5-Gaussian mixture posterior p(m | D);
* :mod:`.core` — one joint / adversary-only update on tensors;
* :mod:`.config` — the ``adversary:`` block of a training config;
* :mod:`.trainer` — three-phase training on top of :mod:`eventlens.training.loop`;
* :mod:`.sculpting` — JSD, working points, background rejection (numpy);
* :mod:`.report` — those metrics for a finished run's test split (and its scores on
  another table);
* :mod:`.bkgfit` — binned m_γγ fits (iminuit): signal shape, background functions,
  F-test, spurious signal, Asimov significance;
* :mod:`.spurious` — those fits for the categories a classifier cut defines;
* :mod:`.study` — FCN vs ANN, the λ scan and the image variant, one command;
* :mod:`.plots` — the study's figures;
* :mod:`.toy` — a two-photon toy table for tests.
"""
