"""The API answers only Host headers naming its bind address, and its description (/docs, /openapi.json)
is off by default and needs the token when on (issue 29, item 8)."""
from fastapi.testclient import TestClient

from bertprep.service.api import create_app
from bertprep.service.jobs_file import parse_jobs

TOKEN = "guards-test-token"


def _config(tmp_path):
    return parse_jobs("output_root: out\nregistry: %s\njobs:\n  counted:\n    pipeline: pretraining\n"
                      "    args: {input: in.txt, vocab: v.txt}\n" % (tmp_path / "runs.sqlite"),
                      str(tmp_path / "jobs.yaml"))


def test_only_the_bind_address_is_answered(tmp_path):
    from bertprep.service.http_server import allowed_hosts

    api = TestClient(create_app(_config(tmp_path), allowed_hosts=allowed_hosts("127.0.0.1")))
    for host in ("127.0.0.1", "127.0.0.1:8080", "localhost:8080", "[::1]:8080"):
        assert api.get("/health", headers={"Host": host}).status_code == 200, host
    for host in ("rebound.example", "rebound.example:8080", "127.0.0.1.rebound.example", ""):
        refused = api.get("/jobs", headers={"Host": host})
        assert refused.status_code == 421 and "does not answer to Host" in refused.json()["detail"], host
    wildcard = TestClient(create_app(_config(tmp_path), allowed_hosts=allowed_hosts("0.0.0.0", ["bertprep.svc"])))
    for host, status in (("10.1.2.3:8080", 200), ("bertprep.svc", 200), ("rebound.example", 421)):
        assert wildcard.get("/health", headers={"Host": host}).status_code == status, host


def test_docs_are_off_by_default_and_need_the_token_when_on(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTPREP_API_TOKEN", TOKEN)
    default = TestClient(create_app(_config(tmp_path)))
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert default.get(path).status_code == 404, path
    documented = TestClient(create_app(_config(tmp_path), docs=True))
    for path in ("/docs", "/openapi.json"):
        assert documented.get(path).status_code == 401, path
        assert documented.get(path, headers={"Authorization": "Bearer " + TOKEN}).status_code == 200, path
    assert documented.get("/health").status_code == 200
