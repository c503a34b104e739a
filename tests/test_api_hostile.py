"""The API against what a data folder or a request can hold (issue 22, item 14)."""
from __future__ import annotations

import pytest

from risk.serving import app as risk_api

WAYS = [("POST", "/prediction", {"json": {"filepath": "in/folder.csv"}}),
        ("POST", "/prediction", {"data": {"filepath": "in/folder.csv"}}),
        ("POST", "/prediction?filepath=in/folder.csv", {}),
        ("GET", "/prediction?filepath=in/folder.csv", {})]


@pytest.fixture
def client(deployed_cfg, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    (deployed_cfg.input_folder_path / "folder.csv").mkdir()
    return risk_api.create_app(deployed_cfg.path).test_client()


@pytest.mark.parametrize("method, url, kwargs", WAYS, ids=["json", "form", "post-query", "get-query"])
def test_a_folder_named_like_a_csv_file_is_a_404_with_a_reason(client, method, url, kwargs):
    r = client.open(url, method=method, **kwargs)
    assert r.status_code == 404, r.get_json()
    assert r.get_json()["error"] == "'filepath' 'in/folder.csv': a folder, not a file"
