"""``cnngen search``: many exact architectures, trained with the generated code and compared.

The pieces, each importable on its own:

* :mod:`cnngen.search.space`: the search space, as choices over the planning
  options; every candidate is a plan the solver accepted.  Pure Python.
* :mod:`cnngen.search.trial`: one candidate's files and its training run
  (imports torch, only when a trial runs).
* :mod:`cnngen.search.study`: the Optuna study that samples, records and
  resumes (imports optuna).
* :mod:`cnngen.search.report`: the leaderboard, the Pareto front and the best
  trial's folder.

Nothing here is imported by the rest of cnngen: the CLI loads it only for
``cnngen search``.
"""
