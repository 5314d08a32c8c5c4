"""Many processes on one storage (a team running one search on a 16- or 64-core machine
as N processes): what each search does when N processes start at once, when one dies,
when one brings other settings, when one joins a finished search.

The N-process ASHA runs themselves are in ``test_asha_shared.py``; here the races are
replayed in one process with one :class:`~hpsearch.model_selection.store.TrialStore` per
simulated process (each has its own owner id, alive while its search runs), so every
interleaving is deterministic and the tests are fast.
"""

import pytest

from hpsearch.model_selection.store import TrialStore, make_storage


def _row(candidate="c0", budget=1):
    return {"params": {"alpha": 1.0}, "candidate_key": candidate,
            "key": f"{candidate}@{budget}"}


def _dead_trial(store, candidate="c0"):
    """A RUNNING trial of ``candidate`` whose owner is no process (a killed run's);
    its trial id."""
    import optuna

    from hpsearch.model_selection.store import owner_id

    return store._new_trial(_row(candidate), candidate, optuna.trial.TrialState.RUNNING,
                            None, {"hpsearch_owner": owner_id(pid=2**22 + 1)})


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


def test_halving_processes_resuming_together_adopt_a_dead_trial_once(tmp_path):
    """Two processes that both read the study before either takes over the RUNNING trial
    a killed halving left: only one takes it over, the other is refused (was: both
    rewrote its owner and fitted it; an owner rewrite has no winner rule, so a take-over
    now creates a new trial, with the dead one's rung scores, and the lower id wins)."""
    storage = str(tmp_path / "s.db")
    dead = TrialStore(storage, "s", resume=True)
    trial_id = _dead_trial(dead)
    dead._storage.set_trial_intermediate_value(trial_id, 1, 0.5)
    first, second = (TrialStore(storage, "s", resume=True) for _ in range(2))
    try:
        first.refresh()
        second.refresh()
        first.claim_budgeted(_row(), "HalvingSearchCV")
        with pytest.raises(RuntimeError, match="cannot share study"):
            second.claim_budgeted(_row(), "HalvingSearchCV")
        trials = first.study.get_trials()
        assert [t.state.name for t in trials] == ["FAIL", "RUNNING", "FAIL"]
        assert trials[1].intermediate_values == {1: 0.5}  # the dead trial's rung score
    finally:
        for store in (dead, first, second):
            store.close()


def test_a_refused_halving_process_gives_up_the_candidates_it_won(tmp_path):
    """Two processes resuming a killed halving read the study at once and each wins
    another candidate first; the one refused next must give up what it won, else the
    other is refused at that candidate too and nobody resumes (seen once in 12 restarts
    of 6 processes: all 6 refused, 3 trials left RUNNING)."""
    import optuna

    storage = str(tmp_path / "s.db")
    dead = TrialStore(storage, "s", resume=True)
    for c in ("c0", "c1"):
        _dead_trial(dead, c)
    x, y = (TrialStore(storage, "s", resume=True) for _ in range(2))
    try:
        x.refresh()
        y.refresh()
        y.claim_budgeted(_row("c0"), "HalvingSearchCV")
        x.claim_budgeted(_row("c1"), "HalvingSearchCV")
        with pytest.raises(RuntimeError, match="cannot share study"):
            y.claim_budgeted(_row("c1"), "HalvingSearchCV")  # x won c1: y is refused
        x.claim_budgeted(_row("c0"), "HalvingSearchCV")  # y gave c0 up: x goes on
        running = x.study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
        assert sorted(t.user_attrs["hpsearch_key"] for t in running) == ["c0", "c1"]
        assert {t.user_attrs["hpsearch_owner"] for t in running} == {x.owner}
    finally:
        for store in (dead, x, y):
            store.close()


def _search(kind, storage, **change):
    """A search of ``kind`` on ``durable_worker.LogFit`` (a tiny Ridge-like estimator that
    continues training), ``resume=True`` on ``storage``; ``change``: set_params."""
    from durable_worker import LogFit, make_search

    from hpsearch import ASHASearchCV
    from hpsearch.space import Float

    if kind == "asha":
        search = ASHASearchCV(LogFit(), {"alpha": Float(1e-3, 30.0, log=True)}, n_trials=3,
                              min_resources=1, max_resources=9, cv=3, refit=False,
                              random_state=0, storage=storage, study_name="s", resume=True)
    else:
        search = make_search(kind, storage, "s", True)
    return search.set_params(**change)


@pytest.mark.parametrize("kind", ["asha", "optuna", "grid"])
@pytest.mark.parametrize("change, named, value", [
    ({"estimator__max_iter": 3}, "estimator", "max_iter=3"),
    ({"scoring": "neg_mean_absolute_error"}, "scoring", "scoring='neg_mean_absolute_error'"),
    ({"return_train_score": True}, "return_train_score", "return_train_score=True"),
])
def test_a_search_with_other_settings_is_refused_on_a_shared_study(
        tmp_path, monkeypatch, kind, change, named, value):
    """A process joining a study (running or finished) with another estimator, scoring
    or return_train_score is refused with an error naming the parameter and both values
    (was: it silently ran a second search in the study, ASHA ignoring the other's
    candidates, Optuna re-fitting the other's trials with its own estimator and telling
    the study both, so two processes ended with different cv_results_ for the same trial
    numbers and the study's best trial compared different estimators or metrics)."""
    from durable_worker import data

    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    storage = str(tmp_path / "s.db")
    X, y = data()
    _search(kind, storage).fit(X, y)
    n_trials = len(_search(kind, storage).fit(X, y).study_.trials)
    with pytest.raises(ValueError, match=f"The '{named}' parameter of .* must be the same") as e:
        _search(kind, storage, **change).fit(X, y)
    assert f"Got {value} instead" in str(e.value)
    import optuna

    from hpsearch.model_selection.store import make_storage

    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    assert len(study.trials) == n_trials  # nothing of the refused search in the study


def test_a_takeover_reuses_fits_the_dead_process_recorded_after_the_read(tmp_path,
                                                                        monkeypatch):
    """ASHA: a process reads the store, the holder of a rung-1 job records split 0 and is
    SIGKILLed during split 1, then the reader checks liveness (dead) and takes the job
    over. It must fit split 1 only (was: it refitted split 0 too, from its older read:
    seen with 8 processes, 78 fits run for 76 recorded). Replayed here: the reader's
    first view of the store is made to miss the fit recorded last."""
    import os
    import signal
    import time

    import optuna

    from hpsearch.model_selection.store import make_storage
    from hpsearch.model_selection.strategies import asha
    from test_asha_shared import _cv_fits, _env, _start, data, make_search

    storage, log = tmp_path / "s.db", tmp_path / "fits.log"
    a, _ = _start(tmp_path, "a", _env(tmp_path, log, 0.3), storage)
    deadline, mine = time.time() + 60, []
    while time.time() < deadline and a.poll() is None:
        mine = [f for f in _cv_fits(log) if f[0] == a.pid]
        if mine and mine[-1][3] == 2 and sum(f[1:4] == mine[-1][1:4] for f in mine) == 2:
            break  # a started split 1 of a rung-1 job: split 0 is recorded
        time.sleep(0.01)
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    victim = mine[-1][1:3]
    study = optuna.load_study(study_name="asha", storage=make_storage(str(storage)))
    study._storage.set_study_system_attr(study._study_id, asha.SHARED_ATTR, True)

    snapshot, dropped = asha._Shared.snapshot, []

    def stale_snapshot(self):  # the first view misses the fits of the job in flight
        schedule = snapshot(self)
        if not dropped:
            jobs = {t.user_attrs.get("hpsearch_job") for t in self.store.refresh()
                    if t.state.name == "RUNNING"}
            dropped.extend(k for k in jobs if k in self.store._fits)
            for key in dropped:
                self.store._fits.pop(key)
        return schedule

    monkeypatch.setattr(asha._Shared, "snapshot", stale_snapshot)
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
    before = len(_cv_fits(log))
    make_search(str(storage), refit=False).fit(*data())
    assert dropped
    taken = [f for f in _cv_fits(log)[before:] if f[1:3] == victim and f[3] == 3]
    assert len(taken) == 1  # split 1 of the rung-1 job, from scratch at 3 epochs


def test_optuna_search_with_another_kind_of_distribution_is_refused_by_name(tmp_path,
                                                                           monkeypatch):
    """A process (or resume) whose space gives a parameter another kind of distribution
    than the study's trials hold gets an error naming 'param_distributions' and the
    parameter (was: Optuna's "Cannot set different distribution kind to the same
    parameter name." without either). Since any change of the space of a resumed Optuna
    study is refused (TrialStore.check_space), the refusal comes from that check, naming
    the dimension with its recorded and new values."""
    from durable_worker import data

    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    storage = str(tmp_path / "s.db")
    _search("optuna", storage).fit(*data())
    with pytest.raises(ValueError, match=r"The 'param_distributions' parameter of "
                                         r"OptunaSearchCV must be the same .*alpha="):
        _search("optuna", storage, n_trials=8,
                param_distributions={"alpha": [0.1, 1.0]}).fit(*data())


def _halving_store(storage):
    store = TrialStore(storage, "s", resume=True)
    store.alone = True  # what HalvingSearchCV / HyperbandSearchCV set on their store
    return store


@pytest.mark.parametrize("suffix", ["db", "jsonl"])
def test_a_halving_process_with_other_candidates_is_refused(tmp_path, suffix):
    """Two halving (or Hyperband) processes on one study with another random_state
    sample other candidates, so the per-candidate rule never met them: each ran its own
    halving in the study (was: both went on, the study held two searches, and a later
    resume of either found the other's trials). Now the later one is refused at its
    first claim, named by the other's process and class, and gives up its trial; the
    first goes on."""
    import os

    storage = str(tmp_path / f"s.{suffix}")
    first, second = _halving_store(storage), _halving_store(storage)
    try:
        first.refresh()
        second.refresh()
        winner = first.claim_budgeted(_row("a0"), "HyperbandSearchCV")
        with pytest.raises(RuntimeError, match=(
                f"HalvingSearchCV cannot share study 's' with another running search: "
                f"process {os.getpid()} on host '.+' is running a HyperbandSearchCV "
                r"\(its own candidates: another random_state")) as info:
            second.claim_budgeted(_row("b0"), "HalvingSearchCV")
        assert "wait for it to end (or stop it), then resume=True" in str(info.value)
        states = {t._trial_id: t.state.name for t in first.study.get_trials()}
        assert states.pop(winner) == "RUNNING"
        assert list(states.values()) == ["FAIL"]  # the refused one's trial: closed
        attrs = first._storage.get_study_system_attrs(first._study_id)
        assert attrs[f"hpsearch_holder:{second.owner}"] is False  # withdrawn
        assert first.claim_budgeted(_row("a1"), "HyperbandSearchCV") != winner
    finally:
        first.close()
        second.close()
    attrs = first._storage.get_study_system_attrs(first._study_id)
    assert attrs[f"hpsearch_holder:{first.owner}"] is False


def test_a_halving_holds_the_study_between_its_brackets(tmp_path):
    """A Hyperband process between two brackets has no RUNNING trial; a halving process
    starting then is still refused (the holder is its announcement, not its trials),
    and the Hyperband's next bracket goes on."""
    storage = str(tmp_path / "s.db")
    first, second = _halving_store(storage), _halving_store(storage)
    try:
        first.claim_budgeted(_row("a0"), "HyperbandSearchCV")
        first.finish("a0", "COMPLETE")  # bracket 0 done: nothing RUNNING
        second.refresh()
        with pytest.raises(RuntimeError, match="is running a HyperbandSearchCV"):
            second.claim_budgeted(_row("b0"), "HalvingSearchCV")
        first.refresh()
        first.claim_budgeted(_row("a1"), "HyperbandSearchCV")  # bracket 1
    finally:
        first.close()
        second.close()


def test_of_two_announced_halvings_the_first_trial_holds_the_study(tmp_path):
    """Started at the same instant: the other process has announced itself but created
    no trial yet when this one checks: its trial will come later (ids follow commit
    order), so this one goes on and the other is refused at its own check."""
    storage = str(tmp_path / "s.db")
    first, second = _halving_store(storage), _halving_store(storage)
    try:
        first._storage.set_study_system_attr(  # second announced, no trial yet
            first._study_id, f"hpsearch_holder:{second.owner}", "HalvingSearchCV")
        second._holding = True
        first.claim_budgeted(_row("a0"), "HalvingSearchCV")
        second._holding = False  # it announces again at its claim (same attribute)
        with pytest.raises(RuntimeError, match="cannot share study"):
            second.claim_budgeted(_row("b0"), "HalvingSearchCV")
    finally:
        first.close()
        second.close()


def test_a_finished_or_killed_halving_does_not_hold_the_study(tmp_path):
    """A halving that ended (its store closed: the process may live on, e.g. a notebook)
    or was killed (its announcement is still True) lets the next one run; a resume by
    one process takes over its trials as before."""
    import optuna

    from hpsearch.model_selection.store import owner_id

    storage = str(tmp_path / "s.db")
    ended = _halving_store(storage)
    ended.claim_budgeted(_row("a0"), "HalvingSearchCV")
    ended.close()
    killed = _halving_store(storage)
    dead = owner_id(pid=2**22 + 1)  # no such process
    killed._storage.set_study_system_attr(killed._study_id, f"hpsearch_holder:{dead}",
                                          "HyperbandSearchCV")
    killed._new_trial(_row("k0"), "k0", optuna.trial.TrialState.RUNNING, None,
                      {"hpsearch_owner": dead})
    killed.close()
    later = _halving_store(storage)
    try:
        later.claim_budgeted(_row("b0"), "HalvingSearchCV")
        later.claim_budgeted(_row("k0"), "HalvingSearchCV")  # takes the dead one over
        states = [t.state.name for t in later.study.get_trials()]
        assert states == ["RUNNING", "FAIL", "RUNNING", "RUNNING"]
    finally:
        later.close()


def test_a_halving_is_refused_while_another_kind_of_search_runs(tmp_path):
    """A live grid/random/Optuna/ASHA process with a RUNNING trial in the study: the
    halving is refused (it would mix its trials into that search); searches that share
    (no ``alone``) keep sharing."""
    storage = str(tmp_path / "s.db")
    grid, halving = TrialStore(storage, "s", resume=True), _halving_store(storage)
    try:
        assert grid.claim([_row("g0")])[0][0] == "mine"
        halving.refresh()
        with pytest.raises(RuntimeError, match="is running another search in it"):
            halving.claim_budgeted(_row("h0"), "HalvingSearchCV")
        other = TrialStore(storage, "s", resume=True)  # an ASHA-like sharer
        try:
            assert other.claim_candidate(_row("x0")) is not None
        finally:
            other.close()
    finally:
        grid.close()
        halving.close()


def test_an_asha_process_is_refused_while_a_halving_holds_the_study(tmp_path):
    """ASHA processes share a study with each other, not with a live halving: its
    first claim is refused, naming the halving; once the halving ended it claims."""
    storage = str(tmp_path / "s.db")
    halving = _halving_store(storage)
    halving.claim_budgeted(_row("h0"), "HalvingSearchCV")
    asha = TrialStore(storage, "s", resume=True)
    try:
        with pytest.raises(RuntimeError, match=(
                "ASHASearchCV cannot share study 's' with another running search: "
                r"process \d+ on host '.+' is running a HalvingSearchCV in it\.")):
            asha.claim_candidate(_row("x0"))
        assert [t.state.name for t in asha.study.get_trials()] == ["RUNNING", "FAIL"]
        halving.close()
        assert asha.claim_candidate(_row("x0")) is not None
    finally:
        halving.close()
        asha.close()


def _asha_store(storage):
    store = TrialStore(storage, "s", resume=True)
    store.group = "asha"  # what ASHASearchCV sets on its store
    return store


def _holding(kind, storage):
    """A live search of ``kind`` ("halving" or "asha") holding the study: its store, with
    one claimed candidate."""
    row = {**_row(kind), "params": {"h": 1.0}}  # (not a parameter of the joining search)
    if kind == "halving":
        store = _halving_store(storage)
        store.claim_budgeted(row, "HalvingSearchCV")
    else:
        store = _asha_store(storage)
        assert store.claim_candidate(row) is not None
    return store


HOLDER_NAMES = {"halving": "HalvingSearchCV", "asha": "ASHASearchCV"}
#: the article before each holder's name in the refusal ("an ASHASearchCV")
HOLDER_ARTICLES = {"halving": "a", "asha": "an"}
JOINER_NAMES = {"grid": "GridSearchCV", "random": "RandomSearchCV",
                "optuna": "OptunaSearchCV"}


@pytest.mark.parametrize("holder", ["halving", "asha"])
@pytest.mark.parametrize("kind", ["grid", "random", "optuna"])
def test_a_grid_random_or_optuna_search_is_refused_while_a_halving_or_asha_holds_the_study(
        tmp_path, monkeypatch, holder, kind):
    """A grid, random or Optuna process joining a study a live halving (or Hyperband) or
    ASHA holds: refused at its first trial, naming the study, the holder's process and
    kind and the way on, with nothing fitted and its trial closed (was: it ran its own
    candidates in the study beside the holder's, so the study held two searches and a
    later resume of either found the other's trials). Once the holder ended, the same
    search runs."""
    import optuna

    from durable_worker import data

    log = tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    storage = str(tmp_path / "s.db")
    store = _holding(holder, storage)
    try:
        with pytest.raises(RuntimeError, match=(
                f"{JOINER_NAMES[kind]} cannot share study 's' with another running search: "
                rf"process \d+ on host '.+' is running {HOLDER_ARTICLES[holder]} {HOLDER_NAMES[holder]} in it\.")
                ) as info:
            _search(kind, storage).fit(*data())
        assert "then resume=True (CLI: --resume); or give this search another " \
               "study_name" in str(info.value)
        assert not log.exists()  # nothing fitted
        states = [t.state.name for t in store.study.get_trials()]
        assert states[0] == "RUNNING" and set(states[1:]) == {"FAIL"}  # refused: closed
        attrs = store._storage.get_study_system_attrs(store._study_id)
        assert [v for k, v in attrs.items() if k.startswith("hpsearch_holder:")
                and k != f"hpsearch_holder:{store.owner}"] == [False]  # withdrawn
    finally:
        store.close()
    search = _search(kind, storage).fit(*data())  # the holder ended: it runs
    assert len(search.cv_results_["params"]) == 6
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 6


@pytest.mark.parametrize("kind", ["grid", "optuna"])
def test_a_killed_asha_or_halving_holds_nothing(tmp_path, monkeypatch, kind):
    """A killed holder (its announcement still True, a trial left RUNNING, its process
    gone) does not refuse a grid or Optuna process."""
    import optuna

    from durable_worker import data

    from hpsearch.model_selection.store import owner_id

    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    storage = str(tmp_path / "s.db")
    store = TrialStore(storage, "s", resume=True)
    for pid, value in ((2**22 + 1, "HalvingSearchCV"), (2**22 + 2, ["ASHASearchCV", "asha"])):
        dead = owner_id(pid=pid)
        store._storage.set_study_system_attr(store._study_id, f"hpsearch_holder:{dead}",
                                             value)
        store._new_trial({**_row(f"k{pid}"), "params": {"h": 1.0}}, f"k{pid}",
                         optuna.trial.TrialState.RUNNING, None, {"hpsearch_owner": dead})
    store.close()
    search = _search(kind, storage).fit(*data())
    assert len(search.cv_results_["params"]) == 6


@pytest.mark.parametrize("joiner", ["halving", "asha"])
def test_a_halving_or_asha_is_refused_while_a_grid_runs(tmp_path, joiner):
    """The converse: a halving or ASHA process joining a study a live grid (random,
    Optuna) process runs in is refused, naming it (was: ASHA went on, mixing its
    candidates with the grid's)."""
    storage = str(tmp_path / "s.db")
    grid = TrialStore(storage, "s", resume=True)
    grid.name = "GridSearchCV"
    joining = _halving_store(storage) if joiner == "halving" else _asha_store(storage)
    try:
        assert grid.claim([_row("g0")])[0][0] == "mine"
        joining.refresh()
        with pytest.raises(RuntimeError, match=(
                f"{HOLDER_NAMES[joiner]} cannot share study 's' with another running "
                r"search: process \d+ on host '.+' is running a GridSearchCV in it\.")):
            if joiner == "halving":
                joining.claim_budgeted(_row("h0"), "HalvingSearchCV")
            else:
                joining.claim_candidate(_row("x0"))
        assert grid.claim([_row("g1")])[0][0] == "mine"  # the grid goes on
    finally:
        grid.close()
        joining.close()


def _started_together(storage, first, second, checks):
    """Replay a halving and an ASHA process started at the same instant: each announces
    itself and creates its first trial (``first``'s trial first), then both check, in the
    order ``checks``; the names of those refused."""
    import optuna

    stores = {"halving": _halving_store(storage), "asha": _asha_store(storage)}
    trials = {}
    try:
        for kind in (first, second):
            store = stores[kind]
            store.announce(HOLDER_NAMES[kind])
            trials[kind] = store._new_trial(_row(kind), kind, optuna.trial.TrialState.RUNNING,
                                            None, {"hpsearch_owner": store.owner})
        refused = []
        for kind in checks:
            try:
                stores[kind]._check_first([trials[kind]], HOLDER_NAMES[kind])
            except RuntimeError as exc:
                assert f"is running {HOLDER_ARTICLES[first]} {HOLDER_NAMES[first]} in it" in str(exc)
                refused.append(kind)
        return refused
    finally:
        for store in stores.values():
            store.close()


@pytest.mark.parametrize("first, second", [("halving", "asha"), ("asha", "halving")])
@pytest.mark.parametrize("later_checks_first", [False, True])
def test_a_halving_and_an_asha_started_together_one_wins(tmp_path, first, second,
                                                         later_checks_first):
    """Started at the same instant, both read the study before either withdrew: the one
    whose first trial has the lower id holds the study, the other is refused (was: the
    halving was refused by the ASHA's RUNNING trial whatever its id, and the ASHA by the
    halving's earlier announcement: both refused, nothing ran)."""
    checks = [second, first] if later_checks_first else [first, second]
    assert _started_together(str(tmp_path / "s.db"), first, second, checks) == [second]


class _PausedRead:
    """A store's storage that runs ``hook`` once, just before its next read of the
    study's system attributes (between a :meth:`TrialStore._refuse_other_search`'s read
    of the trials and its read of the announcements)."""

    def __init__(self, storage, hook):
        self._wrapped, self._hook = storage, hook

    def get_study_system_attrs(self, study_id):
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()
        return self._wrapped.get_study_system_attrs(study_id)

    def __getattr__(self, name):
        return getattr(self._wrapped, name)


@pytest.mark.parametrize("pause", ["between_its_reads", "while_the_loser_gives_up"])
@pytest.mark.parametrize("suffix", ["db", "jsonl"])
def test_the_winner_is_not_refused_by_the_loser_giving_up(tmp_path, monkeypatch, pause,
                                                          suffix):
    """A halving and an ASHA started together, the halving's first trial first: the ASHA
    is refused by it and gives up (its announcement withdrawn, its first trial closed).
    The halving checked while the ASHA gave up: it read the ASHA's first trial RUNNING
    but no announcement of it, took it for a live search that never announced (a search
    of an earlier version) and was refused too: both refused, nothing ran (seen once in
    test_a_halving_and_an_asha_process_started_together_one_wins under load). Now a
    search that announced itself, even one that withdrew since, is never taken for an
    unannounced one: the halving goes on."""
    import optuna

    storage = str(tmp_path / f"s.{suffix}")
    halving, asha = _halving_store(storage), _asha_store(storage)
    try:
        trials = {}
        for kind, store in (("halving", halving), ("asha", asha)):
            store.announce(HOLDER_NAMES[kind])
            trials[kind] = store._new_trial(_row(kind), kind,
                                            optuna.trial.TrialState.RUNNING, None,
                                            {"hpsearch_owner": store.owner})
        refused = []

        def check(kind):
            store = {"halving": halving, "asha": asha}[kind]
            try:
                store._check_first([trials[kind]], HOLDER_NAMES[kind])
            except RuntimeError as exc:
                assert "cannot share study" in str(exc)
                refused.append(kind)

        if pause == "between_its_reads":
            # the halving reads the trials (the ASHA's RUNNING), then the ASHA is
            # refused and gives up, then the halving reads the announcements
            monkeypatch.setattr(halving, "_storage",
                                _PausedRead(halving._storage, lambda: check("asha")))
            check("halving")
        else:
            # the ASHA is refused; the halving checks while it gives up, once its
            # announcement is withdrawn, before its first trial is closed
            give_up = asha._give_up

            def giving_up():
                give_up()
                check("halving")

            monkeypatch.setattr(asha, "_give_up", giving_up)
            check("asha")
        assert refused == ["asha"]
        states = {t._trial_id: t.state.name for t in halving.study.get_trials()}
        assert states == {trials["halving"]: "RUNNING", trials["asha"]: "FAIL"}
    finally:
        halving.close()
        asha.close()


@pytest.mark.parametrize("suffix", ["db", "jsonl"])
def test_a_search_that_checked_the_kind_while_another_kind_ran_is_refused_once_it_ended(
        tmp_path, suffix):
    """A halving passed check_kind while an ASHA ran the study (the ASHA refuses it
    itself, naming its process, when it claims); the ASHA ended before the halving's
    first claim: the halving then held the study and ran, both "ok" one after the other,
    and the study held the trials of both kinds, its kind overwritten (about 1 round in
    2 of test_a_halving_and_an_asha_process_started_together_one_wins under load). Now
    the first claim checks the recorded kind again: refused with check_kind's
    StudyMismatch, its trial closed, the kind kept."""
    from hpsearch.model_selection.store import KIND_ATTR, StudyMismatch

    storage = str(tmp_path / f"s.{suffix}")
    asha, halving = _asha_store(storage), _halving_store(storage)
    try:
        asha.check_kind("ASHA")
        assert asha.claim_candidate(_row("a0")) is not None  # the ASHA holds the study
        halving.name = "HalvingSearchCV"
        halving.check_kind("HalvingSearchCV")  # passes: the ASHA is live
        asha.finish("a0")
        asha.close()  # the ASHA ended
        with pytest.raises(StudyMismatch, match="was run by a search of another kind"):
            halving.claim_budgeted(_row("h0"), "HalvingSearchCV")
        study = halving.study
        assert study._storage.get_study_system_attrs(study._study_id)[KIND_ATTR] == "ASHA"
        trials = study.get_trials()
        assert len(trials) == 2 and trials[1].state.name == "FAIL"  # the halving's, closed
        assert "hpsearch_duplicate" in trials[1].user_attrs
    finally:
        asha.close()
        halving.close()


def _ran(kind, storage):
    """Run a whole search of ``kind`` in study ``s`` (LOGFIT_LOG set); its number of
    trials."""
    from durable_worker import data

    return len(_search(kind, storage).fit(*data()).study_.trials)


def _live_halving(storage):
    """A live halving holding the study: its store, announced, with a RUNNING trial of a
    candidate no other search has (its process goes on while the others run)."""
    store = _halving_store(storage)
    store.claim_budgeted({**_row("h"), "params": {"h": 1.0}}, "HalvingSearchCV")
    return store


def _states_after(storage, n):
    """The states of the study's trials from the ``n``-th on."""
    import optuna

    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    return [t.state.name for t in study.get_trials()[n:]]


@pytest.mark.parametrize("change", [{}, {"n_trials": 12}, {"n_trials": None, "timeout": 60}])
def test_an_asha_joining_a_running_halving_is_refused_before_counting_its_trials(
        tmp_path, monkeypatch, change):
    """An ASHA process started while a halving runs the study (so check_kind lets it
    go on): its candidates count towards n_trials, and it read the halving's
    candidates as its own before it claimed anything, so with n_trials (3) below their
    number it claimed nothing, was never refused and ended "ok" with the halving's rows,
    having fitted nothing (was: 5 rounds in 10 of
    test_a_halving_and_an_asha_process_started_together_one_wins). Now it is refused by
    the running halving before it reads the study's candidates, whatever its n_trials
    (a larger one, or a timeout alone, was refused at its first claim already), fits
    nothing and adds no trial."""
    log = tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "halving.log"))
    storage = str(tmp_path / "s.db")
    n = _ran("halving", storage)  # its trials, as a halving running long has them
    halving = _live_halving(storage)
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    try:
        with pytest.raises(RuntimeError, match=(
                "ASHASearchCV cannot share study 's' with another running search: "
                r"process \d+ on host '.+' is running a HalvingSearchCV in it\.")):
            _search("asha", storage, **change).fit(*data_())
        assert not log.exists()  # nothing fitted
        assert _states_after(storage, n + 1) == []  # no trial of the ASHA
    finally:
        halving.close()


def test_an_asha_that_found_a_halving_running_is_refused_once_it_ended(tmp_path,
                                                                      monkeypatch):
    """The race of test_a_halving_and_an_asha_process_started_together_one_wins
    replayed: the ASHA opens the new study before the halving, which then runs it
    whole while the ASHA starts (the ASHA found it running: it shares the study, as
    with ASHA processes) and ends before the ASHA reads the study. The ASHA counted the
    halving's candidates against its n_trials, claimed nothing and ended "ok" with the
    halving's rows, having fitted nothing. Now it is refused by the kind the halving
    recorded (check_kind's StudyMismatch) before it takes any of them for its own."""
    from hpsearch.model_selection.store import KIND_ATTR, StudyMismatch
    from hpsearch.model_selection.strategies import asha

    log = tmp_path / "fits.log"
    storage = str(tmp_path / "s.db")
    joined, ran = asha._Shared.joined, []

    def the_halving_runs_meanwhile(self):
        if not ran:  # (once) the halving runs the study whole, still live here
            monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "halving.log"))
            ran.append(_ran("halving", storage))
            monkeypatch.setenv("LOGFIT_LOG", str(log))
            halving = _live_halving(storage)
            try:
                return joined(self)  # True: the halving runs
            finally:
                halving.close()  # and ends before the ASHA reads the study
        return joined(self)

    monkeypatch.setattr(asha._Shared, "joined", the_halving_runs_meanwhile)
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    with pytest.raises(StudyMismatch, match="was run by a search of another kind"):
        _search("asha", storage).fit(*data_())
    assert ran and not log.exists()  # nothing fitted
    assert _states_after(storage, ran[0] + 1) == []  # no trial of the ASHA
    study = TrialStore(storage, "s", resume=True)
    try:
        assert study._storage.get_study_system_attrs(study._study_id)[KIND_ATTR] == \
            "HalvingSearchCV"
    finally:
        study.close()


def test_an_optuna_search_joining_a_running_halving_is_refused_before_counting(
        tmp_path, monkeypatch):
    """The same shape in OptunaSearchCV: its taken slots count the RUNNING trials of
    live processes still asking, and the running halving's trials are never given a
    slot, so with n_trials=1 it waited for the halving to end (ignoring its timeout),
    then was refused by the kind the halving recorded. Now it is refused at once by the
    running halving, naming it, and fits nothing."""
    from hpsearch.model_selection.strategies import bayes

    log = tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "halving.log"))
    storage = str(tmp_path / "s.db")
    n = _ran("halving", storage)
    halving, waited = _live_halving(storage), []

    def wait(seconds):  # (before: it waited for the halving, which then ended)
        waited.append(seconds)
        halving.close()

    monkeypatch.setattr(bayes.time, "sleep", wait)
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    try:
        with pytest.raises(RuntimeError, match=(
                "OptunaSearchCV cannot share study 's' with another running search: "
                r"process \d+ on host '.+' is running a HalvingSearchCV in it\.")):
            _search("optuna", storage, n_trials=1).fit(*data_())
        assert not waited and not log.exists()
        assert _states_after(storage, n + 1) == []
    finally:
        halving.close()


def test_a_halving_joining_a_running_asha_is_refused_before_taking_its_rows(tmp_path,
                                                                           monkeypatch):
    """The mirror case: a halving process started while an ASHA runs the study, whose
    rows (the same candidates and budgets) hold every row of the halving. It reused
    them as its own before it claimed anything, was never refused and ended "ok"
    having fitted nothing. Now it is refused by the running ASHA first, naming it, and
    adds no trial."""
    from durable_worker import ALPHAS

    log = tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "asha.log"))
    storage = str(tmp_path / "s.db")
    n = len(_search("asha", storage, n_trials=len(ALPHAS),
                    param_distributions={"alpha": ALPHAS}).fit(*data_()).study_.trials)
    running = _asha_store(storage)  # the ASHA still runs
    assert running.claim_candidate({**_row("a"), "params": {"h": 1.0}}) is not None
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    try:
        with pytest.raises(RuntimeError, match=(
                "HalvingSearchCV cannot share study 's' with another running search: "
                r"process \d+ on host '.+' is running an ASHASearchCV in it\.")):
            _search("halving", storage).fit(*data_())
        assert not log.exists()
        assert _states_after(storage, n + 1) == []
    finally:
        running.close()


def data_():
    from durable_worker import data

    return data()


def race_worker(kind, storage, out, ready, rounds):
    """Entry point of a process of
    :func:`test_a_halving_and_an_asha_process_started_together_one_wins`:
    for each round, wait for the other process (``ready`` files), fit a search of ``kind``
    on study ``s<round>``; append "ok" or the refusal to ``out``."""
    import os
    import time
    import warnings
    from pathlib import Path

    from durable_worker import data

    warnings.simplefilter("ignore")
    X, y = data()
    log = os.environ["LOGFIT_LOG"]
    for r in range(rounds):
        os.environ["LOGFIT_LOG"] = f"{log}.{r}"  # LogFit logs this round's fits there
        Path(f"{ready}.{kind}.{r}").touch()
        while not all(Path(f"{ready}.{k}.{r}").exists() for k in ("halving", "asha")):
            time.sleep(0.001)
        search = _search(kind, storage, study_name=f"s{r}")
        try:
            search.fit(X, y)
            line = "ok"
        except (RuntimeError, ValueError) as exc:
            # refused by the other search running (RuntimeError), or by the kind it
            # recorded once it ended before this one opened the study (StudyMismatch)
            refused = ("cannot share study", "was run by a search of another kind")
            line = "refused" if any(text in str(exc) for text in refused) else repr(exc)
        with open(out, "a") as f:
            f.write(f"{r} {line}\n")


def test_a_halving_and_an_asha_process_started_together_one_wins(tmp_path):
    """Two real processes, a halving and an ASHA, start each round at the same instant on
    a new study of one journal file: never both refused (was: both could be, nothing
    ran); one refused fits nothing; when both run, one started after the other's search
    ended (the log of the round holds one process's fits, then the other's), never both
    at once. (One that opens the study after the other ended in it is refused by the
    kind that one recorded, a StudyMismatch: also "refused"; was: race_worker caught
    RuntimeError alone and crashed on it, seen under load in about 1 round of 10.) One
    that ends "ok" fitted its own candidates (was: an ASHA that found the halving
    running counted the halving's candidates against its n_trials, claimed none, was
    never refused and ended "ok" having fitted nothing, in 5 rounds of 10; now refused
    before it counts them:
    test_an_asha_that_found_a_halving_running_is_refused_once_it_ended)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    path = os.pathsep.join([str(here.parent), str(here), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, LOGFIT_LOG=str(tmp_path / "fits.log"),
               LOGFIT_DELAY="0.01", OMP_NUM_THREADS="1")
    storage, rounds = str(tmp_path / "s.jsonl"), 3
    procs = {
        kind: subprocess.Popen(
            [sys.executable, "-c", f"from test_many_processes import race_worker; "
             f"race_worker({kind!r}, {storage!r}, {str(tmp_path / kind)!r}, "
             f"{str(tmp_path / 'ready')!r}, {rounds})"],
            env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        for kind in ("halving", "asha")
    }
    for proc in procs.values():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    outcomes = {kind: dict(line.split(" ", 1) for line in
                           (tmp_path / kind).read_text().splitlines()) for kind in procs}
    pids = {proc.pid: kind for kind, proc in procs.items()}
    for r in range(rounds):
        ran = [kind for kind in procs if outcomes[kind][str(r)] == "ok"]
        assert ran and all(outcomes[k][str(r)] in ("ok", "refused") for k in procs), outcomes
        log = tmp_path / f"fits.log.{r}"
        fitted = [pids[int(line.split()[0])] for line in log.read_text().splitlines()]
        # a refused one fitted nothing, one "ok" fitted its own candidates
        assert set(fitted) == set(ran), (r, outcomes)
        assert fitted == sorted(fitted, key=fitted.index), (r, fitted)  # not interleaved


def test_a_race_worker_started_after_the_other_kind_ended_is_refused(tmp_path, monkeypatch):
    """The halving of a round of the test above opened the study once the ASHA had run
    it whole and ended (a loaded machine): refused by the kind the ASHA recorded
    (StudyMismatch), which race_worker let escape (was: the process crashed, the test
    failed on its return code), and which is a refusal: it fits nothing."""
    import warnings
    from pathlib import Path

    from durable_worker import data

    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    storage, ready, out = str(tmp_path / "s.jsonl"), str(tmp_path / "ready"), tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _search("asha", storage, study_name="s0").fit(*data())
    Path(f"{ready}.asha.0").touch()  # the ASHA of round 0 was ready (and has ended)
    race_worker("halving", storage, str(out), ready, 1)
    assert out.read_text() == "0 refused\n"
    assert not (tmp_path / "fits.log.0").exists()  # it fitted nothing


# ------------------------------------------------ one kind of search per study (check_kind)
def _kind_searches(storage, name):
    from sklearn.linear_model import Ridge

    from hpsearch.model_selection.strategies.asha import ASHASearchCV
    from hpsearch.model_selection.strategies.bayes import OptunaSearchCV
    from hpsearch.model_selection.strategies.grid import GridSearchCV
    from hpsearch.model_selection.strategies.halving import HalvingSearchCV

    space = {"alpha": [0.01, 0.1, 1.0, 10.0]}
    common = dict(storage=storage, study_name=name, cv=3)
    return {
        "halving": lambda **kw: HalvingSearchCV(Ridge(), space, resource="n_samples",
                                                n_candidates="grid", **common, **kw),
        "asha": lambda **kw: ASHASearchCV(Ridge(), space, n_trials=4, resource="n_samples",
                                          **common, **kw),
        "grid": lambda **kw: GridSearchCV(Ridge(), space, **common, **kw),
        "optuna": lambda **kw: OptunaSearchCV(Ridge(), space, n_trials=4, random_state=0,
                                              **common, **kw),
    }


@pytest.mark.parametrize("first, then", [("halving", "asha"), ("halving", "grid"),
                                         ("asha", "optuna"), ("grid", "halving")])
def test_a_search_of_another_kind_cannot_resume_a_finished_study(tmp_path, first, then):
    # an ASHA resuming a finished halving's study counted its trials against n_trials,
    # fitted nothing and ended "ok" with the halving's rows
    from sklearn.datasets import load_diabetes

    from hpsearch.model_selection.store import StudyMismatch

    import optuna

    from hpsearch.model_selection.store import make_storage

    X, y = load_diabetes(return_X_y=True)
    storage = str(tmp_path / "study.log")
    searches = _kind_searches(storage, "s")
    searches[first]().fit(X, y)
    searches[first](resume=True).fit(X, y)  # the same kind resumes it
    n_trials = len(optuna.load_study(study_name="s", storage=make_storage(storage)).trials)
    with pytest.raises(StudyMismatch, match="was run by a search of another kind") as info:
        searches[then](resume=True).fit(X, y)
    assert info.value.setting == "search"
    # refused before any trial (an ASHA's own resume may add trials: checked before it)
    assert len(optuna.load_study(study_name="s", storage=make_storage(storage)).trials) \
        == n_trials
    searches[first](resume=True).fit(X, y)


def test_grid_and_optuna_share_a_study(tmp_path):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    searches = _kind_searches(str(tmp_path / "study.log"), "s")
    searches["grid"]().fit(X, y)
    search = searches["optuna"](resume=True).fit(X, y)  # its candidates are the grid's
    assert len(search.cv_results_["params"]) == 4


def test_the_refusal_names_each_search_class_with_its_article():
    """"is running a ASHASearchCV": the article follows the sound of each class name."""
    from hpsearch.model_selection.store import _article

    names = {"ASHASearchCV": "an", "OptunaSearchCV": "an", "HalvingSearchCV": "a",
             "HyperbandSearchCV": "a", "GridSearchCV": "a", "RandomSearchCV": "a"}
    assert {name: _article(name) for name in names} == names
