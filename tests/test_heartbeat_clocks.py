"""Another machine's owner is judged by the heartbeats this process reads changing.

The heartbeat is the writer's wall clock; comparing it with the reader's wall clock
alone judged a live owner dead when the reader's clock jumped forward (NTP step, a
resumed VM or laptop), and kept a dead owner alive for as long as its clock was ahead of
the reader's (a resume waited that long for its RUNNING candidates). A
:class:`TrialStore` remembers when (its monotonic clock) it first read each owner's
current heartbeat: once it has read one change, the owner lives while a new heartbeat
comes within :data:`GRACE_PERIOD`, whatever the clocks; a heartbeat unchanged for
:data:`GRACE_PERIOD` of watching is dead, also when its time looks fresh.
"""

import time
import types

from hpsearch.model_selection import store as store_mod
from hpsearch.model_selection.store import ENDED, TrialStore

REMOTE = "elsewhere/some-boot/123/456#1"


def _read(store, beat):
    store._read_heartbeats({f"hpsearch_alive:{REMOTE}": beat, "other": 1})


def test_a_dead_owner_whose_clock_is_ahead_is_dead_after_the_grace_period(monkeypatch):
    monkeypatch.setattr(store_mod, "GRACE_PERIOD", 0.3)
    store = TrialStore(None)
    ahead = time.time() + 3600  # its last heartbeat, by a clock an hour ahead
    _read(store, ahead)
    assert store.alive(REMOTE)
    time.sleep(0.4)
    _read(store, ahead)  # no new heartbeat for the grace period
    assert not store.alive(REMOTE)  # was: alive for an hour more
    store.close()


def test_a_live_owner_stays_alive_when_the_readers_clock_jumps(monkeypatch):
    store = TrialStore(None)
    now = time.time()
    _read(store, now - 5)
    _read(store, now)  # it beats
    assert store.alive(REMOTE)
    jumped = types.SimpleNamespace(time=lambda: time.time() + 3600,
                                   monotonic=time.monotonic, sleep=time.sleep)
    monkeypatch.setattr(store_mod, "time", jumped)
    assert store.alive(REMOTE)  # was: dead, its candidates taken over
    _read(store, now + 5)
    assert store.alive(REMOTE)
    store.close()


def test_first_reads_keep_the_wall_clock_rule(monkeypatch):
    monkeypatch.setattr(store_mod, "GRACE_PERIOD", 0.3)
    store = TrialStore(None)
    _read(store, time.time() - 10)
    assert not store.alive(REMOTE)  # an old heartbeat: dead at once, as before
    _read(store, time.time())
    assert store.alive(REMOTE)
    _read(store, ENDED)
    assert not store.alive(REMOTE)
    store._read_heartbeats({})
    assert not store.alive(REMOTE)
    store.close()


def test_a_watched_owner_that_stops_beating_is_dead(monkeypatch):
    monkeypatch.setattr(store_mod, "GRACE_PERIOD", 0.3)
    store = TrialStore(None)
    beat = time.time()
    _read(store, beat - 0.1)
    _read(store, beat)
    assert store.alive(REMOTE)
    time.sleep(0.4)
    _read(store, beat)
    assert not store.alive(REMOTE)
    _read(store, time.time())  # beats again
    assert store.alive(REMOTE)
    store.close()


def test_a_process_of_another_container_of_this_machine_is_judged_by_its_heartbeat(
        monkeypatch):
    """Two containers of one machine (one host name and boot id, ``--network host``) do
    not see each other's pids. Was: the other container's live process, not found in
    this one's process table, was dead and its RUNNING trials taken over."""
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with monkeypatch.context() as m:
            m.setattr(store_mod, "_pid_namespace", lambda: "4026599999")  # the other's
            other = store_mod.owner_id(pid=proc.pid, token=1)
    finally:
        proc.kill()
        proc.wait()
    # its pid (gone here): the other container's process, which beats
    assert store_mod.owner_alive(other, {other: time.time()})
    assert not store_mod.owner_alive(other, {other: time.time() - 3600})
    assert not store_mod.owner_alive(other, {other: ENDED})
    me = store_mod.owner_id(token="not-running")
    assert not store_mod.owner_alive(me, {me: time.time()})  # this namespace: the table
    # an owner written before the namespace (the boot id alone) is of this namespace
    host, machine, pid, start = store_mod.owner_id(pid=os.getppid()).partition("#")[0].split("/")
    old = f"{host}/{store_mod._boot_id()}/{pid}/{start}#1"
    assert store_mod.owner_alive(old, {})
