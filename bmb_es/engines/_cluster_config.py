"""Cluster connection settings from the environment, with secrets kept out of every message.

``BMB_ES_*`` configures an Elasticsearch cluster, ``BMB_OS_*`` an OpenSearch one:

=====================  ===========================================================
``*_URL``              ``https://host:9200``; ``user:password@`` before the host is taken as basic auth
                       (it ends at the last ``@``, so the password may hold any character; %-escapes decoded)
``*_API_KEY``          Elasticsearch API key (the base64 ``id:key`` form, or ``id:key``)
``*_USER``/``*_PASSWORD``  basic auth
``*_BEARER``           a bearer token (``Authorization: Bearer ...``)
``*_CA_CERTS``         a CA bundle (PEM) to verify the server's certificate
``*_VERIFY``           ``false`` turns TLS verification off (warned about; never the default)
``*_MAX_RETRIES``      times a document refused with 429/502/503/504 is sent again (default 16; 0: never)
``*_RETRY_BACKOFF``    seconds before the first retry (default 0.5; doubles each time, jittered, capped at 30)
=====================  ===========================================================
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from .._errors import InputError
from ._retry import RetryPolicy

Distribution = Literal["elasticsearch", "opensearch"]
PREFIXES: dict[Distribution, str] = {"elasticsearch": "BMB_ES_", "opensearch": "BMB_OS_"}
_FALSE = frozenset({"0", "false", "no", "off"})
_TRUE = frozenset({"1", "true", "yes", "on", ""})
REDACTED = "[redacted]"


class InsecureClusterWarning(UserWarning):
    """TLS certificate verification was turned off for a cluster connection."""


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Where a cluster is and how to authenticate; secrets are excluded from ``repr``.

    ``distribution`` is what the configuration asks for; the engine confirms it with ``GET /``.
    """

    url: str
    distribution: Distribution = "elasticsearch"
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bearer: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify: bool = True
    request_timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The password as the URL spelled it (maybe percent-encoded): a secret too, redacted like the others.
    _written_password: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Credentials in the URL become basic auth and leave the URL, so it can be shown.
        url, username, password = split_url(self.url)
        object.__setattr__(self, "_written_password", _password_as_written(self.url))
        object.__setattr__(self, "url", url)
        if username is not None:
            object.__setattr__(self, "username", self.username if self.username is not None else username)
            object.__setattr__(self, "password", self.password if self.password is not None else password)
        if self.ca_certs and not os.path.isfile(self.ca_certs):
            raise InputError(f"CA bundle {self.ca_certs}: no such file")

    @property
    def has_basic_auth(self) -> bool:
        """Whether a user is set: basic auth is sent (an empty password for a URL that names only a user)."""
        return self.username is not None and self.password is not None

    def basic_auth_header(self) -> dict[str, str]:
        """The basic-auth header, UTF-8 encoded as the Elasticsearch client does (urllib3's default is latin-1,
        which cannot encode every password)."""
        import base64

        if not self.has_basic_auth:
            return {}
        pair = f"{self.username}:{self.password}".encode()
        return {"authorization": f"Basic {base64.b64encode(pair).decode()}"}

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret, also in the encoded forms that reach HTTP headers or URLs."""
        import base64

        values = [self.api_key, self.password, self.bearer, self._written_password]
        if self.api_key:
            values.append(_api_key_value(self.api_key))
        if self.password:
            values.append(quote(self.password, safe=""))
            values.append(base64.b64encode(f"{self.username or ''}:{self.password}".encode()).decode())
        return tuple(value for value in values if value)

    def redact(self, text: str) -> str:
        """``text`` with every secret of this configuration replaced by ``[redacted]``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def auth_headers(self) -> dict[str, str]:
        """Headers for API-key or bearer auth (basic auth goes through the client's own option)."""
        if self.api_key:
            return {"authorization": f"ApiKey {_api_key_value(self.api_key)}"}
        if self.bearer:
            return {"authorization": f"Bearer {self.bearer}"}
        return {}

    def describe(self) -> str:
        """A one-line, secret-free summary: URL, auth method, TLS."""
        auth = (
            "API key"
            if self.api_key
            else "bearer token"
            if self.bearer
            else "basic auth"
            if self.username
            else "no auth"
        )
        tls = "TLS not verified" if not self.verify else f"CA {self.ca_certs}" if self.ca_certs else "TLS verified"
        return f"{self.url} ({auth}; {tls})" if self.url.startswith("https") else f"{self.url} ({auth}; plain HTTP)"

    def warn_if_insecure(self) -> None:
        if not self.verify and self.url.startswith("https"):
            prefix = PREFIXES[self.distribution]
            warnings.warn(
                f"TLS certificate verification is OFF for {self.url} ({prefix}VERIFY=false): "
                f"the connection can be intercepted; give a CA bundle with {prefix}CA_CERTS instead",
                InsecureClusterWarning,
                stacklevel=3,
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClusterConfig | None:
        """The configured cluster, or ``None`` when neither ``BMB_ES_URL`` nor ``BMB_OS_URL`` is set."""
        env = os.environ if environ is None else environ
        found = [(dist, prefix) for dist, prefix in PREFIXES.items() if env.get(f"{prefix}URL", "").strip()]
        if not found:
            return None
        if len(found) > 1:
            raise InputError("both BMB_ES_URL and BMB_OS_URL are set: set only the one for the cluster to use")
        distribution, prefix = found[0]
        verify_raw = env.get(f"{prefix}VERIFY", "true").strip().lower()
        if verify_raw not in _FALSE | _TRUE:
            raise InputError(f"{prefix}VERIFY={verify_raw!r}: use true or false")
        user = env.get(f"{prefix}USER") or None
        password = env.get(f"{prefix}PASSWORD") or None
        if bool(user) != bool(password):
            raise InputError(f"set both {prefix}USER and {prefix}PASSWORD for basic auth, or neither")
        retry = _retry_policy(env, prefix)
        return cls(
            url=env[f"{prefix}URL"].strip().rstrip("/"),
            retry=retry,
            distribution=distribution,
            api_key=env.get(f"{prefix}API_KEY") or None,
            username=user,
            password=password,
            bearer=env.get(f"{prefix}BEARER") or None,
            ca_certs=env.get(f"{prefix}CA_CERTS") or None,
            verify=verify_raw not in _FALSE,
        )


def _retry_policy(env: Mapping[str, str], prefix: str) -> RetryPolicy:
    default = RetryPolicy()
    retries_raw = env.get(f"{prefix}MAX_RETRIES", "").strip()
    if retries_raw and not (retries_raw.isdigit() and int(retries_raw) <= 100):
        raise InputError(f"{prefix}MAX_RETRIES={retries_raw!r}: use a whole number from 0 to 100")
    backoff_raw = env.get(f"{prefix}RETRY_BACKOFF", "").strip()
    try:
        backoff = float(backoff_raw) if backoff_raw else default.initial_backoff
    except ValueError:
        backoff = -1.0
    if not 0 <= backoff <= 60:
        raise InputError(f"{prefix}RETRY_BACKOFF={backoff_raw!r}: use seconds from 0 to 60, e.g. 0.5")
    return RetryPolicy(
        max_retries=int(retries_raw) if retries_raw else default.max_retries,
        initial_backoff=backoff,
        max_backoff=max(default.max_backoff, backoff),
    )


def _api_key_value(api_key: str) -> str:
    """An API key as the header wants it: ``base64(id:key)``; ``id:key`` is encoded here."""
    import base64

    if ":" in api_key:
        return base64.b64encode(api_key.encode()).decode()
    return api_key


URL_FORM = "http(s)://[user:password@]host[:port][/path]"


def split_url(url: str) -> tuple[str, str | None, str | None]:
    """``(url without credentials, username, password)`` of a cluster URL; InputError if it cannot be read.

    The credentials end at the last ``@``, so a password may hold ``#``, ``/``, ``?``, ``@`` and ``:`` as they
    are; percent-escapes in them are decoded (a literal ``%`` followed by two hex digits is written ``%25``).
    A URL naming only a user gives the password ``""``. Without a port the scheme's own is written out (80 or
    443), as browsers and curl read such a URL. Messages show the URL without its password.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise InputError(f"cluster URL {redact_url(url)!r}: expected {URL_FORM}")
    scheme = scheme.lower()
    userinfo, at, location = rest.rpartition("@")
    username: str | None = None
    password: str | None = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        try:
            username = unquote(user_text, errors="strict")
            password = unquote(password_text, errors="strict") if colon else ""
        except UnicodeDecodeError:
            raise InputError(
                f"cluster URL {redact_url(url)!r}: the user or password holds a %-escape that is not UTF-8 text "
                f"(write a literal % as %25); expected {URL_FORM}"
            ) from None
    host_port, slash, path = location.partition("/")
    problem = _location_problem(host_port, slash + path)
    if problem:
        raise InputError(f"cluster URL {redact_url(url)!r}: {problem}; expected {URL_FORM}")
    parts = urlsplit(f"{scheme}://{host_port}")
    port = parts.port or (443 if scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{scheme}://{host}:{port}{(slash + path).rstrip('/')}", username, password


def _password_as_written(url: str) -> str:
    """The password part of ``url``'s credentials as written, or ``""``."""
    userinfo, at, _ = url.partition("://")[2].rpartition("@")
    return userinfo.partition(":")[2] if at else ""


def _location_problem(host_port: str, path: str) -> str:
    """What is wrong with the ``host[:port]`` and path after the credentials, or ``""``."""
    if any(char in host_port + path for char in "?#"):
        return "a query string or fragment is not part of a cluster address"
    if not host_port or any(char.isspace() for char in host_port + path):
        return "no host, or a space in it"
    try:
        parts = urlsplit(f"http://{host_port}")
        port = parts.port  # ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return "the port is not a number from 1 to 65535"
    if not parts.hostname or port == 0:
        return "no host, or port 0"
    return ""


def redact_url(url: str, *, drop: bool = False) -> str:
    """``url`` without its password (``drop``: without user and password), also when it cannot be parsed.

    The credentials are what comes before the last ``@``; a URL without one but with something other than a
    port after a ``:`` (``http://user:password``, the host forgotten) has that part replaced as well.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, at, location = rest.rpartition("@")
    prefix = f"{scheme}://" if sep else ""
    if at:
        user = userinfo.partition(":")[0]
        return f"{prefix}{location}" if drop else f"{prefix}{user}:{REDACTED}@{location}"
    host_port, slash, path = location.partition("/")
    _, colon, port = host_port.rpartition(":")
    if colon and not port.isdigit() and not host_port.endswith("]"):
        return f"{prefix}{REDACTED}{slash}{path}"
    return url


def redact_all(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
