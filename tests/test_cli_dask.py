"""A study file with ``backend: {name: dask, scheduler: ...}`` runs its fits on a Dask
cluster from the CLI and gives the same results as the default backend."""

import json
import textwrap

import pandas as pd
import pytest

from hpsearch.cli import main

distributed = pytest.importorskip("distributed")

STUDY = textwrap.dedent(
    """\
    name: dask_cli
    seed: 3
    data: {{dataset: iris, test_size: 0.3}}
    preprocessing: {{scaler: standard}}
    estimator:
      name: mlp_classifier
      params: {{hidden_layer_sizes: [8], max_iter: 15, batch_size: 16}}
    search:
      method: random
      n_iter: 3
      space:
        learning_rate_init: {{type: float, low: 1e-3, high: 1e-1, log: true}}
        activation: [relu, tanh]
    cv: 3
    scoring: accuracy
    n_jobs: 2
    {backend}
    """
)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dask_backend_from_the_cli_matches_the_default(tmp_path, capsys):
    local_file = tmp_path / "local.yaml"
    local_file.write_text(STUDY.format(backend=""))
    assert main([str(local_file), "--out", str(tmp_path / "local"), "--quiet"]) == 0
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        dask_file = tmp_path / "dask.yaml"
        dask_file.write_text(STUDY.format(
            backend=f"backend: {{name: dask, scheduler: '{cluster.scheduler_address}'}}"))
        rc = main([str(dask_file), "--out", str(tmp_path / "dask"), "--quiet"])
        assert rc == 0, capsys.readouterr().err
        # the fits ran on the cluster: its scheduler saw joblib's batches
        prefixes = {getattr(p, "name", str(p)) for p in cluster.scheduler.task_prefixes}
    local, remote = (json.loads((tmp_path / d / "summary.json").read_text())
                     for d in ("local", "dask"))
    assert remote["backend"].startswith("joblib:Dask"), remote["backend"]
    assert not local["backend"].startswith("joblib:Dask")
    a, b = (pd.read_csv(tmp_path / d / "cv_results.csv") for d in ("local", "dask"))
    cols = [c for c in a.columns if "time" not in c]
    assert cols == [c for c in b.columns if "time" not in c]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    for key in ("best_score", "best_params", "test_scores", "n_fits"):
        assert remote[key] == local[key], key
    assert (tmp_path / "dask" / "best_params.json").read_text() == (
        tmp_path / "local" / "best_params.json").read_text()
    assert any("batch" in p.lower() for p in prefixes), prefixes


def test_unreachable_scheduler_is_one_clear_line(tmp_path, capsys):
    import dask

    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(backend="backend: {name: dask, scheduler: 'tcp://127.0.0.1:1'}"))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        rc = main([str(study), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("hpsearch: run failed: backend.scheduler: cannot connect to the Dask "
                          "scheduler at 'tcp://127.0.0.1:1' (")
    assert "dask worker tcp://127.0.0.1:1" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("address", ["tcp://10.1.2.3:8786", "scheduler.example.com:8786",
                                     "tls://[2001:db8::1]:8786"])
def test_a_study_file_may_not_name_a_scheduler_elsewhere(tmp_path, capsys, address):
    """A stranger's study file named any Dask scheduler: the client sends it the data and
    unpickles what its workers send back (code run here). Only this machine's, refused
    before anything is read or connected, with the key named; --scheduler is the way."""
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(backend=f"backend: {{name: dask, scheduler: '{address}'}}"))
    assert main([str(study), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "backend.scheduler" in err and "must be on this machine" in err, err
    assert "--scheduler" in err and address in err
    assert not (tmp_path / "o").exists()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_scheduler_flag_runs_the_fits_on_that_cluster(tmp_path, capsys):
    """``--scheduler`` (the user's own choice, on the command line) runs a study whose file
    names another backend on that Dask cluster."""
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(backend="backend: {name: dask, scheduler: 'tcp://10.1.2.3:1'}"))
    with distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=2, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        rc = main([str(study), "--out", str(tmp_path / "o"), "--quiet",
                   "--scheduler", cluster.scheduler_address])
        assert rc == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["backend"].startswith("joblib:Dask"), summary["backend"]
