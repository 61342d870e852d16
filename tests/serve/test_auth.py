"""Every door of the API, opened without its protection and found shut with it, over HTTP.

Each door's test runs twice: ``open`` (the app built without keys, as on loopback or with
``auth: none``) shows what the protection stops is really reachable; ``guarded`` (the
same app with keys) shows it stopped.
"""

from __future__ import annotations

import base64
import hmac
import logging
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from taxonomist.data.images import ImagePolicy
from taxonomist.errors import ConfigError
from taxonomist.serve import auth
from taxonomist.serve.app import create_app
from taxonomist.serve.auth import KEYS_ENV, NewKey, access_for, announce, make_key, read_keys
from taxonomist.serve.server import serve
from taxonomist.serve.settings import AuthMode, ServeConfig
from tests.serve.conftest import follower_on, png
from tests.serve.test_limits import refused

PNG = {"Content-Type": "image/png"}
PROTECTION = ["open", "guarded"]


def bearer(made: NewKey | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {made if isinstance(made, str) else made.key}"}


@pytest.fixture(scope="module")
def made() -> dict[str, NewKey]:
    """One key per role: a client that predicts, a Prometheus that scrapes, a slow client."""
    return {"client": make_key("client", ["predict"]),
            "scraper": make_key("scraper", ["metrics"]),
            "slow": make_key("slow", ["predict"], rate="2/minute")}


@pytest.fixture
def client_for(make_client, made: dict[str, NewKey]):
    """``client_for("open" | "guarded", **settings)``: the app without keys, or with them."""
    ring = read_keys("".join(key.entry for key in made.values()), "keys.yaml")
    return lambda protection, **settings: make_client(
        keys=ring if protection == "guarded" else None, **settings)


@pytest.mark.parametrize("protection", PROTECTION)
def test_predict_without_a_key(client_for, protection: str) -> None:
    reply = client_for(protection).post("/v1/predict", content=png(), headers=PNG)
    if protection == "open":
        assert reply.status_code == 200, reply.text
        return
    refused(reply, 401, "unauthorized", "no API key", "Authorization: Bearer")
    assert reply.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("protection", PROTECTION)
@pytest.mark.parametrize("sent", [
    "txk_" + "A" * 43,  # a key's shape, made nowhere
    "",  # "Bearer " and nothing
])
def test_predict_with_a_wrong_key(client_for, protection: str, sent: str) -> None:
    reply = client_for(protection).post("/v1/predict", content=png(),
                                        headers=PNG | bearer(sent))
    if protection == "open":
        assert reply.status_code == 200, reply.text
        return
    assert reply.status_code == 401, reply.text
    assert reply.json()["error"] == "unauthorized"


@pytest.mark.parametrize("protection", PROTECTION)
def test_a_key_of_another_scheme_is_not_a_bearer_key(client_for, made, protection) -> None:
    basic = base64.b64encode(f"client:{made['client'].key}".encode()).decode()
    reply = client_for(protection).post("/v1/predict", content=png(),
                                        headers=PNG | {"Authorization": f"Basic {basic}"})
    assert reply.status_code == (200 if protection == "open" else 401), reply.text


@pytest.mark.parametrize("protection", PROTECTION)
def test_predict_with_a_key_for_metrics_only(client_for, made, protection: str) -> None:
    reply = client_for(protection).post("/v1/predict", content=png(),
                                        headers=PNG | bearer(made["scraper"]))
    if protection == "open":
        assert reply.status_code == 200, reply.text
        return
    refused(reply, 403, "forbidden", "'scraper'", "POST /v1/predict", "its routes: metrics",
            "keys.yaml")


def test_a_key_allowed_predict_is_answered(client_for, made) -> None:
    reply = client_for("guarded").post("/v1/predict", content=png(),
                                       headers=PNG | bearer(made["client"]))
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"][0]["walk"]


@pytest.mark.parametrize("protection", PROTECTION)
def test_metrics_need_a_key_allowed_metrics(client_for, made, protection: str) -> None:
    client = client_for(protection)
    anonymous, predictor = client.get("/metrics"), client.get("/metrics",
                                                              headers=bearer(made["client"]))
    if protection == "open":
        assert anonymous.status_code == predictor.status_code == 200
        return
    refused(anonymous, 401, "unauthorized")
    refused(predictor, 403, "forbidden", "GET /metrics")
    scraped = client.get("/metrics", headers=bearer(made["scraper"]))
    assert scraped.status_code == 200 and "taxonomist_http_requests_total" in scraped.text


def test_health_stays_open_for_probes(client_for) -> None:
    health = client_for("guarded").get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


@pytest.mark.parametrize("protection", PROTECTION)
def test_a_key_past_its_rate_waits(client_for, made, protection: str) -> None:
    client = client_for(protection)
    replies = [client.post("/v1/predict", content=png(), headers=PNG | bearer(made["slow"]))
               for _ in range(3)]
    if protection == "open":
        assert [r.status_code for r in replies] == [200, 200, 200]
        return
    assert [r.status_code for r in replies[:2]] == [200, 200]
    body = refused(replies[2], 429, "rate_limited", "'slow'", "2 per minute", "retry in")
    assert body["limit"] == {"rate": "2/minute"}
    assert 1 <= int(replies[2].headers["Retry-After"]) <= 60
    other = client.post("/v1/predict", content=png(), headers=PNG | bearer(made["client"]))
    assert other.status_code == 200  # the rate is the key's own


def test_keys_without_a_rate_get_serve_rate_limit(client_for, made) -> None:
    client = client_for("guarded", rate_limit="1/minute")
    first, second = (client.get("/metrics", headers=bearer(made["scraper"])) for _ in "12")
    assert first.status_code == 200
    refused(second, 429, "rate_limited", "1 per minute")


@pytest.mark.parametrize("protection", PROTECTION)
def test_health_names_a_failed_poll_by_its_kind_only(registry, served, made, protection) -> None:
    follower = follower_on(registry, served)
    follower.refresh = lambda: None  # its polls leave the error set below alone
    keys = read_keys(made["client"].entry, "keys.yaml") if protection == "guarded" else None
    error = "MlflowException: API request to http://ci:s3cret@mlflow.internal/api failed"
    with TestClient(create_app(follower, ServeConfig(), ImagePolicy(), keys)) as client:
        follower.last_error = error
        shown = client.get("/health").json()["last_error"]
    if protection == "open":
        assert shown == error
        return
    assert shown == "MlflowException (the server's log has the details)"


def test_the_docs_offer_the_bearer_scheme(client_for) -> None:
    schema = client_for("guarded").get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["API key"] == {
        "type": "http", "scheme": "bearer",
        "description": "A key made by taxonomist.serve.auth.make_key, sent as "
                       "`Authorization: Bearer <key>`."}
    assert schema["paths"]["/v1/predict"]["post"]["security"] == [{"API key": []}]


def test_no_key_reaches_an_answer_the_metrics_or_the_log(client_for, made, caplog) -> None:
    client, key = client_for("guarded"), made["client"].key
    wrong = key[:-4] + "AAAA"
    caplog.set_level(logging.DEBUG)
    answers = [client.post("/v1/predict", content=png(), headers=PNG | bearer(sent))
               for sent in (key, wrong)]
    answers.append(client.get("/metrics", headers=bearer(key)))
    answers.append(client.get("/metrics", headers=bearer(made["scraper"])))
    seen = b"".join(r.content + str(r.headers).encode() for r in answers)
    seen += caplog.text.encode()
    for secret in (key, wrong, made["scraper"].key):
        for form in (secret.encode(), base64.b64encode(secret.encode())):
            assert form not in seen


def test_a_key_is_compared_with_every_hash_in_constant_time(made, monkeypatch) -> None:
    ring = read_keys("".join(key.entry for key in made.values()), "keys.yaml")
    compared: list[bytes] = []
    constant_time = hmac.compare_digest

    def spy(stored: bytes, presented: bytes) -> bool:
        compared.append(stored)
        return constant_time(stored, presented)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert ring.identify(made["client"].key).name == "client"  # the first entry
    assert compared == [key.sha256 for key in ring.keys]  # ...and still every other one


def test_a_made_key_is_stored_only_as_its_hash() -> None:
    made = make_key("frontend", ["predict", "metrics"], rate="100/minute")
    assert made.key.startswith("txk_") and len(made.key) == 47
    assert made.key not in made.entry
    assert auth.hash_key(made.key).hex() in made.entry
    assert make_key("frontend").key != made.key


@pytest.mark.parametrize(("text", "match"), [
    ("web: {sha256: txk_abc, routes: [predict]}", r"keys.yaml: web.sha256: this is a key, "
                                                  r"not its hash.*\n.*revoke this key"),
    ("web: {sha256: abc, routes: [predict]}", r"web.sha256: expected the key's SHA-256"),
    (f"web: {{sha256: {'ab' * 32}, routes: [admin]}}", r"web.routes: expected a list of "
                                                      r"predict, metrics, got \['admin'\]"),
    (f"web: {{sha256: {'ab' * 32}, routes: [predict], rate: often}}", r"web.rate: expected a "
                                                                      r"rate such as"),
    (f"web: {{sha256: {'ab' * 32}, routes: [predict], roles: x}}", r"web.roles: unknown key"),
    ("[]", r"keys.yaml: expected one entry per key"),
    (f"web: {{sha256: {'ab' * 32}, routes: [[predict]]}}", r"web.routes: expected a list"),
    ("web: [", r"keys.yaml: not YAML"),
])
def test_a_wrong_keys_file_is_refused_naming_the_key(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        read_keys(text, "keys.yaml")


def test_make_key_refuses_what_the_server_would(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"make_key: web.routes: .*\['admin'\]"):
        make_key("web", ["admin"])
    with pytest.raises(ConfigError, match=r"make_key: a key's name is"):
        make_key("no spaces")
    key = make_key("web").key
    with pytest.raises(ConfigError, match=r"keys.yaml: a key's name is .*\(and not a key\)") as err:
        read_keys(f"{key}: {{sha256: {'ab' * 32}, routes: [predict]}}", "keys.yaml")
    assert key not in str(err.value)


# Who may listen where: the refusal to start happens before uvicorn.

def test_the_keys_come_from_the_file_or_the_environment(tmp_path: Path, made) -> None:
    file = tmp_path / "keys.yaml"
    file.write_text(made["client"].entry)
    from_file = access_for(ServeConfig(keys_file=str(file)), {})
    from_env = access_for(ServeConfig(), {KEYS_ENV: made["client"].entry})
    assert from_file.identify(made["client"].key).name == "client"
    assert from_env.identify(made["client"].key).name == "client"
    with pytest.raises(ConfigError, match=r"both keys_file and \$TAXONOMIST_API_KEYS"):
        access_for(ServeConfig(keys_file=str(file)), {KEYS_ENV: made["client"].entry})
    with pytest.raises(ConfigError, match=r"keys_file: cannot read .*missing.yaml.*\n.*mount"):
        access_for(ServeConfig(keys_file=str(tmp_path / "missing.yaml")), {})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "taxonomist.internal"])
def test_no_keys_off_loopback_is_refused_before_listening(host: str, monkeypatch) -> None:
    started = []
    monkeypatch.setattr("taxonomist.serve.server.uvicorn.run", lambda *a, **k: started.append(a))
    with pytest.raises(ConfigError, match=rf"host: '{host}' can be reached from other "
                                          r"machines, and no API key is set"):
        serve(Path("conf"), ServeConfig(host=host))
    assert started == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_no_keys_on_loopback_answers_anyone(host: str, caplog) -> None:
    caplog.set_level(logging.INFO, "taxonomist.serve")
    settings = ServeConfig(host=host)
    assert access_for(settings, {}) is None
    announce(settings, None)
    assert "no API keys: answering anyone on the loopback address" in caplog.text


def test_auth_none_opens_any_address_and_warns(caplog) -> None:
    settings = ServeConfig(host="0.0.0.0", auth=AuthMode.none)
    assert access_for(settings, {}) is None
    announce(settings, None)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warned and "serve.auth is none: anyone who can reach 0.0.0.0:8080" in caplog.text


def test_auth_keys_or_none_must_agree_with_the_keys(made) -> None:
    with pytest.raises(ConfigError, match=r"auth: keys, but no keys are given"):
        access_for(ServeConfig(auth=AuthMode.keys), {})
    with pytest.raises(ConfigError, match=r"auth: none, but keys are given"):
        access_for(ServeConfig(auth=AuthMode.none), {KEYS_ENV: made["client"].entry})


def test_the_api_key_verb_prints_a_key_and_the_entry_that_admits_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from taxonomist.cli import main

    main(["api-key", "web-frontend", "--routes", "predict,metrics", "--rate", "5/second"])
    key, entry = capsys.readouterr().out.split("\n", 1)
    ring = read_keys(entry, "the printed entry")
    assert key.startswith("txk_") and key not in entry
    assert ring.identify(key) is not None and ring.identify(key + "x") is None
    assert yaml.safe_load(entry) == {"web-frontend": {
        "sha256": auth.hash_key(key).hex(), "routes": ["metrics", "predict"],
        "rate": "5/second"}}
