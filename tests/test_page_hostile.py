"""The managers' page against data and requests nobody planned for (issue 22: items 3, 8, 9).

What a real extract can hold (a missing figure, an id that is a spreadsheet formula, an id
with a zero-width character, '.', '..', a line break, 300 characters) must show the right
page, a safe CSV and an honest rendering; /docs carries the same browser locks as the page.
"""
from __future__ import annotations

import io

import pandas as pd
import pytest

from risk.data import contract
from risk.model import scoring
from risk.serving import app as risk_api
from risk.serving import page
from tests.test_page import publish


@pytest.fixture
def published(deployed_cfg):
    return deployed_cfg, publish(deployed_cfg)


@pytest.fixture
def client(published, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    return risk_api.create_app(published[0].path).test_client()


def test_client_page_of_a_client_with_a_missing_figure_says_missing(client, published):
    cfg, frame = published
    ranking, _ = scoring.read_call_list(cfg)
    gaps = ranking[ranking[list(contract.FEATURES)].isna().any(axis=1)]
    assert len(gaps), "the generated data has a few percent missing figures"
    for corp in gaps["corporation"].head(5):
        r = client.get(f"/client/{corp}")
        assert r.status_code == 200, corp
        assert "<dd>missing</dd>" in r.text
