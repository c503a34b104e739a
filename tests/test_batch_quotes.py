"""An id with a quoted line break where pyarrow's reader cuts its blocks (issue 22, item 10, in part):
the pandas batch path reads it as the contract's reader does, never silently changed."""
from __future__ import annotations

import pytest

from risk.data import contract
from risk.model import batchscore


def quoted_breaks(pad: int, n: int = 120_000) -> tuple[bytes, list[str]]:
    """n clients, every third id holding a quoted line break; `pad` shifts where 1 MB blocks end."""
    ids = [("p" * pad if i == 0 else "") + (f"c{i}\nx" if i % 3 == 0 else f"c{i}") for i in range(n)]
    lines = [",".join(contract.COLUMNS)]
    lines += [f'"{c}",{i % 50},{i % 700},{1 + i % 40},{i % 2}' if "\n" in c else f"{c},{i % 50},{i % 700},{1 + i % 40},{i % 2}"
              for i, c in enumerate(ids)]
    return ("\n".join(lines) + "\n").encode(), ids


@pytest.mark.parametrize("pad", [0, 6, 9])
def test_ids_with_quoted_line_breaks_survive_the_block_boundary(pad):
    raw, ids = quoted_breaks(pad)
    got = batchscore.parse_clients(raw, "quoted.csv")
    assert got[contract.ID].tolist() == ids


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            Client(lc) as c:
        yield c


def test_dask_ingestion_keeps_ids_with_quoted_line_breaks_across_its_blocks(tmp_path, dask_client):
    from risk.data import ingestion, sources
    from risk.scale import scaleout
    raw, ids = quoted_breaks(0, n=3_000)
    (tmp_path / "quoted.csv").write_bytes(raw)
    files = sources.candidates(tmp_path)
    frames, records = ingestion.read_files(files)
    expected = contract.write_csv(ingestion.compile_dataset(frames, records))
    out = tmp_path / "out" / "finaldata.csv"
    out.parent.mkdir()
    scaleout.compile_files(dask_client, files, out, block_bytes=4_000)
    assert out.read_bytes() == expected


HOSTILE_IDS = ["acme, inc", 'the "best" co', "line\nbreak", "cr\rco", "=1+2", "+cmd", "-2", "@sum(a1)", "\ttab"]


def hostile(n: int = 4_000, labelled: bool = False) -> bytes:
    """n generated clients, a few with ids that need quotes or start like a formula, some listed twice."""
    import numpy as np
    import pandas as pd

    import generate_data
    frame = generate_data.clients(np.random.default_rng(21), n)
    for k, name in enumerate(HOSTILE_IDS):
        frame.loc[(k * 997) % n, contract.ID] = name
    again = frame.iloc[::7].assign(lastmonth_activity=0.0)  # listed again: the last row counts
    frame = pd.concat([frame, again], ignore_index=True)
    return contract.write_csv(frame if labelled else frame.assign(exited=np.nan))


@pytest.fixture(scope="module")
def model():
    import numpy as np

    import generate_data
    from risk.model import training
    return training.train_model(generate_data.clients(np.random.default_rng(5), 2_000))


def test_dask_ranking_is_the_pandas_bytes_when_ids_need_quotes(tmp_path, dask_client, model):
    from risk.scale import scaleout
    source = tmp_path / "clients.csv"
    source.write_bytes(hostile())
    pandas_out, dask_out = tmp_path / "pandas.csv", tmp_path / "dask.csv"
    rows = batchscore.score_csv(model, source, pandas_out)
    assert scaleout.rank_file(dask_client, model, source, dask_out, block_bytes=4_000,
                              rows_per_partition=300) == rows
    assert dask_out.read_bytes() == pandas_out.read_bytes()
    assert b'"acme, inc"' in pandas_out.read_bytes()


def test_dask_ingestion_is_the_pandas_bytes_when_ids_need_quotes(tmp_path, dask_client):
    from risk.data import ingestion, sources
    from risk.scale import scaleout
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(hostile(labelled=True))
    (tmp_path / "in" / "b.csv").write_bytes(b"corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
                                            + b"plain,1,2,3,0\n" * 5 + b'"acme, inc",1,2,3,1\n')
    files = sources.candidates(tmp_path / "in")
    frames, records = ingestion.read_files(files)
    assert [r.status for r in records] == ["ingested", "ingested"]
    expected = contract.write_csv(ingestion.compile_dataset(frames, records))
    out = tmp_path / "finaldata.csv"
    scaleout.compile_files(dask_client, files, out, block_bytes=4_000)
    assert out.read_bytes() == expected
    assert set(HOSTILE_IDS) <= set(contract.read_csv(out)[contract.ID])  # read back the same


def test_needs_quotes_reads_only_the_ids_of_each_chunk():
    import pyarrow as pa
    ids = pa.array(["plain", "acme, inc", "other"])
    assert batchscore.needs_quotes(ids)
    assert not batchscore.needs_quotes(pa.chunked_array([ids.slice(0, 1), ids.slice(2, 1)]))  # beside a comma
    assert batchscore.needs_quotes(pa.array(["cr\rco"], pa.large_string()))
    assert not batchscore.needs_quotes(pa.array(["", "=1+2", "\ttab"]))
    assert not batchscore.needs_quotes(pa.chunked_array([], pa.string()))
