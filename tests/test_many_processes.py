"""Many processes on one storage (a team running one search on a 16- or 64-core machine
as N processes): what each search does when N processes start at once, when one dies,
when one brings other settings, when one joins a finished search.

The N-process ASHA runs themselves are in ``test_asha_shared.py``; here the races are
replayed in one process with one :class:`~hpsearch.model_selection.store.TrialStore` per
simulated process (each has its own owner id, alive while its search runs), so every
interleaving is deterministic and the tests are fast.
"""

import pytest

from hpsearch.model_selection.store import TrialStore


def _row(candidate="c0", budget=1):
    return {"params": {"alpha": 1.0}, "candidate_key": candidate,
            "key": f"{candidate}@{budget}"}


@pytest.mark.parametrize("suffix", ["db", "jsonl"])
def test_halving_processes_started_together_only_one_fits(tmp_path, suffix):
    """Two halving (or Hyperband) processes started at once on a new study both read
    no trial, then both claim the first candidate: the later claim is refused before
    anything is fitted (was: both fitted every round-0 candidate, a refused process
    up to a whole bracket, and the study held each of those candidates twice)."""
    storage = str(tmp_path / f"s.{suffix}")
    first, second = (TrialStore(storage, "s", resume=True) for _ in range(2))
    try:
        first.refresh()
        second.refresh()  # both see an empty study
        winner = first.claim_budgeted(_row(), "HalvingSearchCV")
        with pytest.raises(RuntimeError, match="HalvingSearchCV cannot share study 's'"):
            second.claim_budgeted(_row(), "HalvingSearchCV")
        states = {t._trial_id: t.state.name for t in first.study.get_trials()}
        assert states[winner] == "RUNNING"
        assert sorted(states.values()) == ["FAIL", "RUNNING"]  # the loser's: closed
        # the winner goes on claiming its candidates
        assert first.claim_budgeted(_row("c1"), "HalvingSearchCV") != winner
    finally:
        first.close()
        second.close()
