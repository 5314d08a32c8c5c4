"""The search strategies: each decides which candidates to try and at what budget.

One module per strategy (``grid``, ``random``, ``bayes`` (Optuna), ``halving`` (successive
halving, Hyperband), ``asha``, ``recipe``) with its schedule helpers beside it
(``_halving_schedule``, ``_halving_resource``, ``_asha_schedule``, ``_optuna``,
``_gp_sampler``). The engine (``.._engine``), the trial store (``..store``) and the
statistics (``..stats``) live one level up; the public names are re-exported there."""
