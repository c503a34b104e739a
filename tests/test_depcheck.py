import http.server
import json
import socket
import threading
from importlib import metadata

import pytest

from risk.reports import depcheck


@pytest.fixture
def closed_index(monkeypatch):
    """An index URL on a local port nobody listens on: every request is refused, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{s.getsockname()[1]}/simple"
        monkeypatch.setenv(depcheck.INDEX_URL_ENV, url)
        yield url


@pytest.fixture
def silent_index():
    """An index URL whose server accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)  # the kernel completes the handshakes; nobody reads or replies
        yield f"http://127.0.0.1:{s.getsockname()[1]}/simple"


@pytest.fixture
def fake_index():
    """A local package index serving the Simple API's JSON (PEP 691): {name: files}; others get 404."""
    answers: dict[str, list] = {}
    seen: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.strip("/").split("/")[-1]
            seen.append((self.path, self.headers.get("Accept")))
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": name,
                               "files": answers.get(name, [])}).encode()
            self.send_response(200 if name in answers else 404)
            self.send_header("Content-Type", depcheck.SIMPLE_JSON)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple", answers, seen
    server.shutdown()
    server.server_close()


# --- dependency check ------------------------------------------------------------

def test_requirements_are_read_with_their_pins(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# runtime\nnumpy==2.4.6\n\n-r other.txt\npandas>=2  # any recent\n"
                    "Flask == 3.1.3\nwinonly==1.0; sys_platform == 'nonesuch'\n")
    assert depcheck.requirements(path) == [("numpy", "2.4.6"), ("pandas", None), ("Flask", "3.1.3")]


def test_a_bad_requirement_line_is_named(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("numpy==2.4.6\nnot a requirement!\n")
    with pytest.raises(depcheck.DependencyError, match="line 2 is not a requirement"):
        depcheck.requirements(path)


def test_dependency_check_offline_reports_unknown_with_the_reason(closed_index):
    rows = depcheck.dependency_status(depcheck.REQUIREMENTS, timeout_s=2)
    names = [name for name, _ in depcheck.requirements(depcheck.REQUIREMENTS)]
    assert [r["name"] for r in rows] == names
    for r in rows:
        assert r["latest"] == "unknown"
        assert r["outdated"] is None
        assert "cannot reach 127.0.0.1" in r["reason"] and "refused" in r["reason"]
        assert r["installed"] == metadata.version(r["name"])


def test_dependency_check_gives_up_on_a_silent_index_at_its_timeout(silent_index, tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("numpy==2.4.6\npandas==3.1.1\n")
    rows = depcheck.dependency_status(path, timeout_s=0.3, index_url=silent_index)
    assert [r["latest"] for r in rows] == ["unknown", "unknown"]
    assert all("within 0.3 s" in r["reason"] for r in rows)


def wheel(name, version, requires=None, yanked=False):
    return {"filename": f"{name}-{version}-py3-none-any.whl", "requires-python": requires, "yanked": yanked}


def test_dependency_check_compares_pins_with_the_index(fake_index, tmp_path):
    url, answers, seen = fake_index
    numpy_now = metadata.version("numpy")
    answers["pandas"] = [wheel("pandas", "99.0", ">=3.8"), {"filename": "pandas-98.0.tar.gz"}]
    answers["requests"] = [wheel("requests", "0.1")]
    # The latest numpy needs a future Python: the newest that installs here counts;
    # yanked releases and pre-releases never count.
    answers["numpy"] = [wheel("numpy", numpy_now, ">=3.9"), wheel("numpy", "98.0", ">=3.9", yanked=True),
                        wheel("numpy", "99.0", ">=99"), wheel("numpy", "100.0rc1"),
                        {"filename": "numpy-0.9.win32.exe"}]
    path = tmp_path / "requirements.txt"
    path.write_text(f"pandas==1.0\nnumpy=={numpy_now}\nrequests\nno-such-package-xyz==1.0\n")

    rows = {r["name"]: r for r in depcheck.dependency_status(path, timeout_s=2, index_url=url)}

    assert rows["pandas"] == {
        "name": "pandas", "pinned": "1.0", "installed": metadata.version("pandas"),
        "latest": "99.0", "latest_for_python": "99.0", "outdated": True, "reason": None,
    }
    assert rows["numpy"]["latest"] == "99.0"
    assert rows["numpy"]["latest_for_python"] == numpy_now
    assert rows["numpy"]["outdated"] is False
    assert "does not install on Python" in rows["numpy"]["reason"]
    assert rows["requests"]["pinned"] is None and rows["requests"]["outdated"] is False
    assert rows["no-such-package-xyz"]["installed"] is None
    assert rows["no-such-package-xyz"]["latest"] == "unknown"
    assert "not found on the index" in rows["no-such-package-xyz"]["reason"]
    assert ("/simple/no-such-package-xyz/", depcheck.SIMPLE_JSON) in seen


def test_the_index_is_the_one_pip_is_configured_with(tmp_path, monkeypatch):
    monkeypatch.delenv(depcheck.INDEX_URL_ENV)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_CERT", raising=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = https://mirror.example/simple/\ncert = {bundle}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert depcheck.index_settings() == ("https://mirror.example/simple", str(bundle))

    monkeypatch.setenv("PIP_INDEX_URL", "https://other.example/simple")
    assert depcheck.index_settings()[0] == "https://other.example/simple"

    monkeypatch.setenv(depcheck.INDEX_URL_ENV, "http://127.0.0.1:9/simple")
    assert depcheck.index_settings()[0] == "http://127.0.0.1:9/simple"


def test_without_any_setting_the_index_is_pypi(monkeypatch, tmp_path):
    monkeypatch.delenv(depcheck.INDEX_URL_ENV)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setattr(depcheck, "pip_config_files", lambda: [tmp_path / "none.conf"])
    assert depcheck.index_settings()[0] == "https://pypi.org/simple"


def test_an_index_answering_html_is_reported_not_trusted(tmp_path):
    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        path = tmp_path / "requirements.txt"
        path.write_text("numpy==2.4.6\n")
        [row] = depcheck.dependency_status(path, 2, f"http://127.0.0.1:{server.server_address[1]}/simple")
    finally:
        server.shutdown()
        server.server_close()
    assert row["outdated"] is None
    assert "PEP 691" in row["reason"]
