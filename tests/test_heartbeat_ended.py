"""No heartbeat lands after the ``ENDED`` a closing store writes.

A heartbeat write stuck (a slow SQLite or journal write) past :meth:`TrialStore.close`'s
wait landed after its ``ENDED``: a resume in another process on this machine then read
the owner alive from the process table (a notebook lives on after its search ended) and
waited for its RUNNING candidates for ever. The writer and ``close`` now share a lock:
a write in flight ends before ``ENDED``, and one stuck past the wait writes ``ENDED``
again after it. A live store's heartbeat is untouched.
"""

import threading
import time

import pytest

from hpsearch.model_selection import store as store_mod
from hpsearch.model_selection.store import ENDED, TrialStore


def _attr(store):
    return store._storage.get_study_system_attrs(store._study_id)[
        f"hpsearch_alive:{store.owner}"]


def _blocking_store(tmp_path, monkeypatch, release):
    """A shared store whose heartbeat thread's time writes wait for ``release``;
    returns it and the event set when such a write is in flight."""
    monkeypatch.setattr(store_mod, "HEARTBEAT_INTERVAL", 0.01)
    store = TrialStore(f"sqlite:///{tmp_path / 's.db'}", "s")
    entered = threading.Event()
    real = store._storage.set_study_system_attr

    def write(study_id, key, value):
        if (threading.current_thread().name == "hpsearch-heartbeat" and value != ENDED
                and key.startswith("hpsearch_alive:")):
            entered.set()
            release.wait(10)
        return real(study_id, key, value)

    store._storage.set_study_system_attr = write
    store._start_heartbeat()
    assert entered.wait(10)
    return store, entered


def test_a_heartbeat_stuck_past_the_close_wait_is_followed_by_ended(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "_CLOSE_WAIT", 0.2)
    release = threading.Event()
    store, _ = _blocking_store(tmp_path, monkeypatch, release)
    thread = store._beat[0]
    start = time.monotonic()
    store.close()
    assert time.monotonic() - start < 5  # close does not wait for a stuck write
    assert _attr(store) == ENDED
    release.set()  # the stuck heartbeat lands now, after ENDED
    thread.join(10)
    assert not thread.is_alive()
    # was: a fresh time, the ended owner alive for every other process
    assert _attr(store) == ENDED
    assert not store_mod.owner_alive(store.owner, {store.owner: _attr(store)})


def test_close_waits_for_a_heartbeat_write_in_flight(tmp_path, monkeypatch):
    release = threading.Event()
    store, _ = _blocking_store(tmp_path, monkeypatch, release)
    thread = store._beat[0]
    closer = threading.Thread(target=store.close)
    closer.start()
    time.sleep(0.2)
    assert closer.is_alive()  # ENDED waits for the write in flight ...
    release.set()
    closer.join(10)
    thread.join(10)
    assert not closer.is_alive() and not thread.is_alive()
    assert _attr(store) == ENDED  # ... and lands after it


def test_no_heartbeat_restarts_after_close(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "HEARTBEAT_INTERVAL", 0.01)
    store = TrialStore(f"sqlite:///{tmp_path / 's.db'}", "s")
    store._start_heartbeat()
    store.close()
    store._start_heartbeat()  # (a late call of a closed store)
    time.sleep(0.1)
    assert store._beat is None and _attr(store) == ENDED


def test_a_live_store_keeps_beating(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "HEARTBEAT_INTERVAL", 0.01)
    live = TrialStore(f"sqlite:///{tmp_path / 's.db'}", "s")
    ended = TrialStore(f"sqlite:///{tmp_path / 's.db'}", "s", resume=True)
    live._start_heartbeat()
    ended._start_heartbeat()
    ended.close()
    first = _attr(live)
    deadline = time.time() + 10
    while _attr(live) == first and time.time() < deadline:
        time.sleep(0.02)
    assert ENDED < first < _attr(live)  # another store's close leaves it alive
    assert store_mod.owner_alive(live.owner, {live.owner: _attr(live)})
    assert _attr(ended) == ENDED
    live.close()


def test_a_ctrl_c_while_closing_still_ends_the_owner(tmp_path, monkeypatch):
    """A second Ctrl-C that lands while close() waits for a heartbeat write in flight
    is raised once close is done. Was: raised from the wait, it skipped the rest of
    close: this process (a notebook) went on listing the search as running, so a
    resume in the same process waited for ever for the candidates it had left RUNNING."""
    import os
    import signal

    from hpsearch.model_selection._engine import interrupts_deferrable

    release = threading.Event()
    store, _ = _blocking_store(tmp_path, monkeypatch, release)
    thread = store._beat[0]
    timers = [threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)),
              threading.Timer(0.5, release.set)]
    with interrupts_deferrable():
        for timer in timers:
            timer.start()
        with pytest.raises(KeyboardInterrupt):
            store.close()
    for timer in timers:
        timer.join()
    thread.join(10)
    assert _attr(store) == ENDED
    assert not store_mod.owner_alive(store.owner)  # (was: True, its token still listed)


@pytest.fixture(autouse=True)
def _quiet():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
