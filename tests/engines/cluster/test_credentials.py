"""Credentials in cluster URLs: parsed whatever the password holds, sent as basic auth, never shown.

A password may hold every character, raw (``#``, ``/``, ``?``, ``@``, ``:``, spaces, any Unicode) or
percent-encoded; the userinfo ends at the last ``@`` before the host. Each case goes through the parser, the
official clients' real transports (against the fake cluster, which checks the ``Authorization`` header) and an
authentication failure, whose message, repr and log must not hold the secret in any form.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from bmb_es import IndexMeta, InputError
from bmb_es.cli import app
from bmb_es.engines import ClusterConfig, ClusterError, open_engine

from .fake_cluster import FakeCluster, start

# (userinfo as written in the URL, the username, the password the cluster must receive)
CREDENTIALS: list[tuple[str, str, str]] = [
    ("elastic:abc#Secret", "elastic", "abc#Secret"),
    ("elastic:slash/in/secret", "elastic", "slash/in/secret"),
    ("elastic:what?secret=1", "elastic", "what?secret=1"),
    ("elastic:p@ss@word-secret", "elastic", "p@ss@word-secret"),
    ("elastic:colon:in:secret", "elastic", "colon:in:secret"),
    ("elastic:100%25-secret", "elastic", "100%-secret"),
    ("elastic:abc%23Secret", "elastic", "abc#Secret"),
    ("elastic:%2F%3F%40%3A%23-secret", "elastic", "/?@:#-secret"),
    ("elastic:with space secret", "elastic", "with space secret"),
    ("elastic:with%20space%20secret", "elastic", "with space secret"),
    ("elastic:pässwörd-sëcret", "elastic", "pässwörd-sëcret"),
    ("elastic:%C3%A9t%C3%A9-secret", "elastic", "été-secret"),
    ("elastic:密码🔑secret", "elastic", "密码🔑secret"),
    ("elastic:#/?@:%25 all-of-them", "elastic", "#/?@:% all-of-them"),
    ("user%40corp:secret#1-corp", "user@corp", "secret#1-corp"),
    ("user@corp:secret/2-corp", "user@corp", "secret/2-corp"),
    ("elastic:[]{}<>-secret", "elastic", "[]{}<>-secret"),
    ("elastic:;,&=+$!*'()-secret", "elastic", ";,&=+$!*'()-secret"),
    ("elastic:ends-with-at-secret@", "elastic", "ends-with-at-secret@"),
    ("elastic:back\\slash\\secret", "elastic", "back\\slash\\secret"),
    ("admin:%E2%82%AC-euro-secret", "admin", "€-euro-secret"),
    ("admin:€uro#raw-secret", "admin", "€uro#raw-secret"),
    ("elastic:odd%2-escape-secret", "elastic", "odd%2-escape-secret"),
    ("elastic:%zz-not-hex-secret", "elastic", "%zz-not-hex-secret"),
    ("elastic:query?x=1#frag-secret", "elastic", "query?x=1#frag-secret"),
    ("elastic:hunter2-plain-secret", "elastic", "hunter2-plain-secret"),
    ("elastic:" + "long-secret-" * 20, "elastic", "long-secret-" * 20),
    ("elastic:tab%09and%0Anewline-secret", "elastic", "tab\tand\nnewline-secret"),
    (":only-a-password-secret", "", "only-a-password-secret"),
    ("elastic:Ω≈ç√-math-secret", "elastic", "Ω≈ç√-math-secret"),
    ("el%C3%A4stic:umlaut-user-secret", "elästic", "umlaut-user-secret"),
    ("elastic:%25%32%33-encoded-percent-secret", "elastic", "%23-encoded-percent-secret"),
]
# A user with no password: basic auth with an empty password, as curl -u user: and requests send it.
USER_ONLY = ("elastic", "elastic", "")

# (scheme and host as written after the userinfo, the scheme, host and port the client must get)
HOSTS: list[tuple[str, str, str, int, str]] = [
    ("http", "localhost:9200", "localhost", 9200, ""),
    ("https", "es.example.com:9243", "es.example.com", 9243, ""),
    ("https", "es.example.com", "es.example.com", 443, ""),
    ("http", "localhost", "localhost", 80, ""),
    ("http", "[::1]:9200", "::1", 9200, ""),
    ("https", "proxy.example.com:8443/elastic", "proxy.example.com", 8443, "/elastic"),
]


def _case_id(case: tuple[str, str, str]) -> str:
    return quote(case[0], safe="")[:40]


def _secrets(userinfo: str, user: str, password: str) -> list[str]:
    """Every form in which a password could leak: as given, decoded, re-encoded, and in the basic-auth header."""
    raw = userinfo.partition(":")[2] if ":" in userinfo else ""
    forms = [raw, password, quote(password, safe=""), base64.b64encode(f"{user}:{password}".encode()).decode()]
    return [form for form in forms if form]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


@pytest.mark.parametrize("host", HOSTS, ids=lambda host: f"{host[0]}-{host[1]}")
@pytest.mark.parametrize("case", [*CREDENTIALS, USER_ONLY], ids=_case_id)
def test_the_url_is_split_into_credentials_and_a_clean_url(
    case: tuple[str, str, str], host: tuple[str, str, str, int, str]
) -> None:
    userinfo, user, password = case
    scheme, written, hostname, port, path = host
    url = f"{scheme}://{userinfo}@{written}"
    config = ClusterConfig.from_env({"BMB_ES_URL": url})
    assert config is not None
    assert (config.username, config.password) == (user, password)
    shown = f"[{hostname}]" if ":" in hostname else hostname
    assert config.url == f"{scheme}://{shown}:{port}{path}"
    secrets = _secrets(userinfo, user, password)
    for text in (config.url, repr(config), config.describe(), config.redact(f"echo {url} {password}")):
        assert not _leaks(text, secrets), text


@pytest.fixture(scope="module", params=["es9", "os2"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeCluster]:
    fake, running = start(request.param)  # one per module: stopping a server waits for its 0.5 s poll
    yield fake
    running.shutdown()
    running.server_close()


@pytest.fixture
def cluster(server: FakeCluster) -> FakeCluster:
    server.requests.clear()
    server.indices.clear()
    server.require_auth = None
    return server


def _env(fake: FakeCluster, userinfo: str) -> dict[str, str]:
    prefix = "BMB_ES_" if fake.is_es else "BMB_OS_"
    return {f"{prefix}URL": fake.url.replace("://", f"://{userinfo}@", 1)}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("case", [*CREDENTIALS, USER_ONLY], ids=_case_id)
def test_the_credential_arrives_as_basic_auth(cluster: FakeCluster, case: tuple[str, str, str]) -> None:
    userinfo, user, password = case
    cluster.require_auth = _basic(user, password)
    engine = open_engine(environ=_env(cluster, userinfo))
    try:
        assert engine.list_indices() == []
    finally:
        engine.close()
    assert cluster.requests and all(r.headers.get("authorization") == cluster.require_auth for r in cluster.requests)


@pytest.mark.parametrize("case", [case for case in CREDENTIALS if case[1]], ids=_case_id)
def test_user_and_password_variables_arrive_as_basic_auth(cluster: FakeCluster, case: tuple[str, str, str]) -> None:
    _, user, password = case
    cluster.require_auth = _basic(user, password)
    prefix = "BMB_ES_" if cluster.is_es else "BMB_OS_"
    environ = {f"{prefix}URL": cluster.url, f"{prefix}USER": user, f"{prefix}PASSWORD": password}
    engine = open_engine(environ=environ)
    try:
        assert engine.list_indices() == []
    finally:
        engine.close()
    assert all(r.headers.get("authorization") == cluster.require_auth for r in cluster.requests)
    assert password not in repr(engine.config)  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", CREDENTIALS, ids=_case_id)
def test_a_refused_credential_is_never_shown(
    cluster: FakeCluster, case: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    userinfo, user, password = case
    caplog.set_level(logging.DEBUG)
    cluster.require_auth = "Basic c29tZW9uZTplbHNl"
    with pytest.raises(ClusterError, match="authentication failed") as raised:
        open_engine(environ=_env(cluster, userinfo))
    secrets = _secrets(userinfo, user, password)
    for text in (str(raised.value), repr(raised.value), caplog.text):
        assert not _leaks(text, secrets), text


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("http://elastic:secret-no-host", "secret-no-host"),
        ("http://elastic:secret#pw@host:notaport", "secret#pw"),
        ("http://elastic:secret#pw@host:99999", "secret#pw"),
        ("http://elastic:secret#pw@", "secret#pw"),
        ("http://elastic:secret%FFbytes@host:9200", "secret%FFbytes"),
        ("http://elastic:secret#pw@host:9200?x=1", "secret#pw"),
        ("elastic:secret#pw@host:9200", "secret#pw"),
        ("ftp://elastic:secret#pw@host:9200", "secret#pw"),
        ("http://elastic:secret pw@bad host:9200", "secret pw"),
    ],
)
def test_an_unparseable_url_is_one_clear_error_without_the_secret(url: str, secret: str) -> None:
    with pytest.raises(InputError, match="expected http") as raised:
        ClusterConfig.from_env({"BMB_ES_URL": url})
    assert secret not in str(raised.value) and quote(secret, safe="") not in str(raised.value)
    result = CliRunner().invoke(app, ["indices"], env={"BMB_ES_URL": url})
    assert result.exit_code == 3, result.output
    assert result.output.startswith("error: cluster URL") and len(result.output.strip().splitlines()) == 1
    assert secret not in result.output


def test_the_cli_works_with_such_a_password_and_never_prints_it(cluster: FakeCluster) -> None:
    userinfo, user, password = CREDENTIALS[0]
    cluster.require_auth = _basic(user, password)
    engine = open_engine(environ=_env(cluster, userinfo))
    engine.create_index("papers", IndexMeta("test/fake-model", 4))
    engine.close()
    env = _env(cluster, userinfo)
    secrets = _secrets(userinfo, user, password)
    listed = CliRunner().invoke(app, ["indices"], env=env)
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("papers\t0 docs\ttest/fake-model (4-d)") and not _leaks(listed.output, secrets)
    explained = CliRunner().invoke(app, ["query", "--no-rerank", "--explain", "lung damage"], env=env)
    assert explained.exit_code == 0, explained.output
    assert '"lung damage"' in explained.output and not _leaks(explained.output, secrets)
    cluster.require_auth = "Basic c29tZW9uZTplbHNl"
    refused = CliRunner().invoke(app, ["indices"], env=env)
    assert refused.exit_code == 9 and refused.output.startswith("error: ") and "authentication failed" in refused.output
    assert len(refused.output.strip().splitlines()) == 1 and not _leaks(refused.output, secrets)
