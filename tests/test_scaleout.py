"""scaleout.py and batchscore.py: Dask gives the pandas path's results; the pandas path never imports Dask.

One small LocalCluster (2 threaded workers) serves the module; small blocks
and ranges make a few thousand rows span many tasks and partitions.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, client_csv
from test_reliability import fill, small_disk

import generate_data
from risk import artifacts, config
from risk.data import contract, ingestion, sources
from risk.model import batchscore, scoring, training

BLOCK = 4_000  # bytes: ~200 rows per task


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            Client(lc) as c:
        yield c


@pytest.fixture(scope="module")
def model():
    return training.train_model(generate_data.clients(np.random.default_rng(5), 2_000))


def extracts(tmp_path):
    """Three extracts: repeated rows within and across files, a client coming back changed."""
    rng = np.random.default_rng(11)
    a = generate_data.clients(rng, 1500)
    b = pd.concat([generate_data.clients(rng, 900), a.iloc[100:400], a.iloc[1000:1010]], ignore_index=True)
    b = pd.concat([b, b.iloc[:50]], ignore_index=True)  # repeated inside the file too
    changed = a.iloc[:200].assign(lastmonth_activity=a["lastmonth_activity"].iloc[:200] + 1)
    c = pd.concat([changed, generate_data.clients(rng, 700)], ignore_index=True)
    paths = []
    for name, frame in (("a.csv", a), ("b.csv", b), ("c.csv", c)):
        (tmp_path / name).write_bytes(contract.write_csv(frame))
        paths.append(tmp_path / name)
    return paths


def test_dask_ingestion_keeps_the_same_rows_in_the_same_order(tmp_path, client):
    from risk.scale import scaleout
    paths = extracts(tmp_path)
    files = sources.candidates(tmp_path)
    frames, records = ingestion.read_files(files)
    expected = contract.write_csv(ingestion.compile_dataset(frames, records))
    out = tmp_path / "finaldata.csv"
    dask_records, rows, dropped = scaleout.compile_files(client, files, out, block_bytes=BLOCK)
    assert len(scaleout.blocks_of(paths, BLOCK)) >= 15  # many tasks per file
    assert out.read_bytes() == expected
    assert [vars(r) for r in dask_records] == [vars(r) for r in records]
    assert dropped == sum(len(f) for f in frames) - rows > 300


def test_dask_ingestion_rejects_a_bad_file_naming_the_same_line(tmp_path, client):
    from risk.scale import scaleout
    (tmp_path / "in").mkdir()
    good = tmp_path / "in" / "good.csv"
    good.write_bytes(client_csv(800, seed=1))
    lines = client_csv(3000, seed=2).decode().splitlines(keepends=True)
    lines[2500] = "badco,5,-7,3,0\n"  # deep in a later block
    bad = tmp_path / "in" / "bad.csv"
    bad.write_text("".join(lines))
    with pytest.raises(contract.DataError) as pandas_error:
        contract.read_csv(bad)
    records, rows, _ = scaleout.compile_files(client, sources.candidates(tmp_path / "in"), tmp_path / "out.csv",
                                              block_bytes=BLOCK)
    assert records[0].status == "rejected"
    assert records[0].reason == str(pandas_error.value)
    assert "line 2501" in records[0].reason
    assert records[1].status == "ingested" and rows == 800


def test_dask_batch_scoring_gives_the_pandas_ranking(tmp_path, client, model):
    from risk.scale import scaleout
    rng = np.random.default_rng(3)
    clients = generate_data.clients(rng, 6000)
    # Clients listed again later with new figures: their last row counts.
    again = clients.iloc[:800].assign(lastmonth_activity=0.0)
    frame = pd.concat([clients, again], ignore_index=True)
    source = tmp_path / "clients.csv"
    source.write_bytes(contract.write_csv(frame.assign(exited=np.nan)))
    pandas_out, dask_out = tmp_path / "pandas.csv", tmp_path / "dask.csv"
    rows = batchscore.score_csv(model, source, pandas_out)
    assert scaleout.rank_file(client, model, source, dask_out, block_bytes=BLOCK,
                              rows_per_partition=700) == rows == 6000
    assert dask_out.read_bytes() == pandas_out.read_bytes()
    # Again on the same cluster (the model is sent anew each time), leaving no scored blocks behind.
    again = tmp_path / "again.csv"
    assert scaleout.rank_file(client, model, source, again, block_bytes=BLOCK) == rows
    assert again.read_bytes() == pandas_out.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.csv", "clients.csv", "dask.csv", "pandas.csv"]
    # And both are the ranking the rest of the system computes.
    expected = scoring.ranked_clients(model, contract.read_csv(source, require_target=False))
    got = pd.read_csv(dask_out, dtype={contract.ID: str})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


@pytest.mark.slow
def test_parts_a_killed_run_left_are_removed_by_the_next_run(tmp_path, client, model):
    from risk.scale import scaleout
    source = tmp_path / "clients.csv"
    source.write_bytes(client_csv(500, seed=2))
    out = tmp_path / "ranked.csv"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    prefix = f".ranked.csv.parts-{socket.gethostname()}-"
    killed = tmp_path / f"{prefix}{gone.stdout.strip()}-x1"
    killed.mkdir()
    (killed / "block-000000.arrow").write_bytes(b"half")
    running = tmp_path / f"{prefix}1-x2"  # pid 1 runs: its parts are in use
    running.mkdir()
    scaleout.rank_file(client, model, source, out)
    assert not killed.exists() and running.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["clients.csv", "ranked.csv", running.name])


def test_pandas_batch_scoring_matches_the_report_ranking_and_reads_like_the_contract(tmp_path, model):
    frame = generate_data.clients(np.random.default_rng(8), 3000)
    source = tmp_path / "clients.csv"
    source.write_bytes(contract.write_csv(frame.assign(exited=np.nan)))
    read = batchscore.read_clients(source)
    pd.testing.assert_frame_equal(read, contract.read_csv(source, require_target=False))
    table = batchscore.ranked(model, read)
    pd.testing.assert_frame_equal(batchscore.ranking_frame(table), scoring.ranked_clients(model, read),
                                  check_dtype=False)


@pytest.mark.parametrize("content, message", [
    (b"corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nab,1,x,3,0\n",
     "non-numeric value 'x' on line 2"),
    (b"corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\nab,1,2,3,0,9\n",
     "malformed CSV"),
    (b"corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n", "header only"),
    (b"corporation,lastmonth_activity\nab,1\n", "missing column"),
    (b"", "empty file"),
])
def test_pandas_batch_reader_refuses_what_the_contract_refuses(tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(contract.DataError, match=message):
        batchscore.read_clients(path)


def test_ranking_quotes_ids_that_need_it_and_reads_back_the_same(tmp_path, model):
    frame = generate_data.clients(np.random.default_rng(9), 50)
    frame.loc[3, contract.ID] = 'acme, "the" co'
    source = tmp_path / "clients.csv"
    source.write_bytes(contract.write_csv(frame))
    batchscore.score_csv(model, source, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype={contract.ID: str})
    assert 'acme, "the" co' in set(back[contract.ID])


def test_risk_order_is_the_stable_descending_argsort():
    p = np.round(np.random.default_rng(1).random(20_000) ** 4, 6)
    p[:500] = 0.5  # many ties
    assert (batchscore.risk_order(p) == np.argsort(-p, kind="stable")).all()


@pytest.mark.slow
def test_the_default_path_never_imports_dask(tmp_path, make_config):
    cfg_path = make_config()
    code = (
        "import sys, json, numpy as np; import generate_data\n"
        "from risk import config; from risk.model import batchscore, training; from risk.scale import engine\n"
        "cfg = config.load(sys.argv[1]); engine.ingest(cfg)\n"
        "m = training.train_model(generate_data.clients(np.random.default_rng(1), 500))\n"
        "batchscore.score_csv(m, cfg.finaldata_path, cfg.output_folder_path / 'ranked.csv')\n"
        "print(json.dumps([n for n in sys.modules if n.split('.')[0] in ('dask', 'distributed')]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(cfg_path)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []


def test_ingestion_runs_on_dask_when_configured(tmp_path, make_config, monkeypatch, client):
    from risk.scale import engine, scaleout
    cfg = config.load(make_config(extra={"dask_scheduler": client.scheduler_info()["address"]}))
    monkeypatch.setattr(scaleout, "BLOCK_BYTES", BLOCK)
    result = engine.ingest(cfg)
    dask_bytes = cfg.finaldata_path.read_bytes()
    pandas = ingestion.ingest(cfg._replace(dask_scheduler=""))
    assert dask_bytes == cfg.finaldata_path.read_bytes()
    assert result.rows == pandas.rows and [vars(f) for f in result.files] == [vars(f) for f in pandas.files]


def test_a_full_disk_under_dask_scoring_is_one_line_and_leaves_nothing(tmp_path, client, model):
    from risk.scale import scaleout
    source = tmp_path / "clients.csv"
    source.write_bytes(client_csv(3000, seed=4))
    with small_disk(tmp_path / "out", "1m") as out:
        (out / "ranked.csv").write_bytes(b"the last good ranking\n")
        fill(out)
        with pytest.raises(scaleout.ScaleoutError) as error:
            scaleout.score_csv(client.scheduler_info()["address"], model, source, out / "ranked.csv")
        assert str(error.value) == f"ranking {source} into {out / 'ranked.csv'} on Dask: No space left on device"
        assert (out / "ranked.csv").read_bytes() == b"the last good ranking\n"
        assert sorted(p.name for p in out.iterdir()) == [".filler", "ranked.csv"]


def test_dask_ingestion_writes_the_records_pandas_writes(tmp_path, make_config, monkeypatch, client):
    """records.csv (every accepted extract, labelled or not: the call list's clients) is pandas' bytes."""
    from risk.scale import engine, scaleout
    rng = np.random.default_rng(12)
    labelled = generate_data.clients(rng, 1200)
    unlabelled = pd.concat([generate_data.clients(rng, 700), labelled.iloc[:90]], ignore_index=True)
    unlabelled.loc[5, contract.ID] = "acme, inc"
    partly = generate_data.clients(rng, 300)
    partly.loc[partly.index[::2], contract.TARGET] = np.nan
    no_outcome_column = contract.write_csv(generate_data.clients(rng, 400).drop(columns=contract.TARGET))
    inputs = {
        "a.csv": contract.write_csv(pd.concat([labelled, labelled.iloc[:40]], ignore_index=True)),
        "b.csv": contract.write_csv(unlabelled.assign(exited=np.nan)),  # outcomes not known yet
        "c.csv": contract.write_csv(partly),  # outcomes on some rows only: left out
        "d.csv": no_outcome_column,
        "e.csv": contract.write_csv(labelled.iloc[100:300]),  # repeats a.csv's rows
    }
    cfg = config.load(make_config(inputs=inputs, extra={"dask_scheduler": client.scheduler_info()["address"]}))
    monkeypatch.setattr(scaleout, "BLOCK_BYTES", BLOCK)
    engine.ingest(cfg)
    index = cfg.records_path.with_name(artifacts.RECORDS_EXTRACTS_FILE)
    dask_records, dask_data = cfg.records_path.read_bytes(), cfg.finaldata_path.read_bytes()
    dask_index = index.read_bytes()
    cfg.records_path.unlink()
    index.unlink()
    ingestion.ingest(cfg._replace(dask_scheduler=""))
    assert dask_records == cfg.records_path.read_bytes()
    assert dask_index == index.read_bytes()  # which extract each row came from: the client's figures
    assert dask_data == cfg.finaldata_path.read_bytes()
    ids = set(contract.read_csv(cfg.records_path, require_target=False)[contract.ID])
    assert "acme, inc" in ids and not ids & set(partly[contract.ID]) - set(labelled[contract.ID])

