"""The experiments of Sec. 3.2-3.3 that train many models (notebooks 05-07): for each, the sweep of models, how
each model is scored, and the claim criteria, applied alike to the models and their controls.

- :mod:`gdlib.experiments.composition` (+ ``composition_claims``): composition and interpolation (Sec. 3.2,
  App. C.2-C.4, notebook 05);
- :mod:`gdlib.experiments.sample_efficiency` (+ ``sample_efficiency_claims``): the data needed for 60% accuracy
  against N (Fig. 5, notebook 06);
- :mod:`gdlib.experiments.percolation` (+ ``percolation_losses``, ``percolation_claims``, ``percolation_onsets``,
  ``percolation_curves``): models trained on nested lattice subsets (Sec. 3.3, App. D.2, notebook 07); the
  percolation *simulation* is :mod:`gdlib.percolation`.

Each experiment module is at most 250 lines: ``<experiment>.py`` builds the sweep and scores each model,
``<experiment>_claims.py`` holds the claims measured on those scores (gates, criteria, null worlds).

Their figures are in :mod:`gdlib.plots`, their browsers in :mod:`gdlib.widgets`.
"""
