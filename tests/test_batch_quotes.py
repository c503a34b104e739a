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
