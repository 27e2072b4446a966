"""Every setting, read from the environment in one place.

``load_settings`` validates as it reads, so a bad value stops start-up with a
``SettingsError`` naming the setting; the CLI prints it as one line.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from compliance import PROJECT_ROOT
from compliance.core.files import write_whole

MIN_SECRET_KEY_LENGTH = 32


class SettingsError(Exception):
    """A setting is missing or wrong. ``str()`` is the one line shown to the operator."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


@dataclass(frozen=True)
class DatabaseTarget:
    """A parsed ``DATABASE_URL``: either a SQLite file or a PostgreSQL DSN."""

    engine: str  # "sqlite" or "postgres"
    url: str = field(repr=False)  # may hold a password; ``display`` is safe to show
    sqlite_path: Path | None = None

    @property
    def display(self) -> str:
        """The URL without any password, for messages and logs."""
        return redact_url(self.url)


@dataclass(frozen=True)
class Settings:
    database: DatabaseTarget
    secret_key: str = field(repr=False)
    reports_dir: Path
    var_dir: Path
    base_url: str
    host: str
    port: int
    database_pool_size: int
    # PKCS#12 file holding the program's signing key and certificate; when unset, a
    # self-signed development certificate is created under var/signing/.
    signing_p12: Path | None = None
    signing_passphrase: str = field(default="", repr=False)
    timestamp_url: str = ""  # RFC 3161 time-stamping service; none when empty
    # Outgoing mail; with no SMTP_HOST messages wait in the outbox, readable by staff.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, tls or none
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    mail_from: str = "compliance@localhost"
    background_jobs: bool = True  # notices and outbox delivery inside the app
    # Officer link requests allowed per minute, per client address and per token.
    link_rate_per_client: int = 60
    link_rate_per_token: int = 30
    # How far report workers step back for the server when both want the CPU (0-19).
    worker_niceness: int = 10
    # Redis for what several instances share: sign-in sessions, rate-limit counts and,
    # when set, the job queue. Empty: each process keeps its own (one instance).
    redis_url: str = field(default="", repr=False)
    # With a job queue (PostgreSQL or Redis): this app process takes jobs too. Off on
    # app instances when `compliance worker` processes do the work.
    worker_in_app: bool = True

    @property
    def database_url(self) -> str:
        return self.database.url


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def parse_database_url(url: str) -> DatabaseTarget:
    """Accept ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` and
    ``postgresql://user[:pw]@host[:port]/db`` (``postgres://`` too)."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError(
            "DATABASE_URL",
            f"{redact_url(url)!r} is not a URL; expected sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DBNAME",
        )
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise SettingsError(
                "DATABASE_URL", "a SQLite URL needs a file path: sqlite:///var/app.sqlite3"
            )
        path = Path(unquote(rest[1:]))
        if str(path) in ("", ":memory:"):
            raise SettingsError("DATABASE_URL", "an in-memory SQLite database is not supported")
        if not path.is_absolute():
            path = Path.cwd() / path
        return DatabaseTarget(engine="sqlite", url=f"sqlite:///{path}", sqlite_path=path)
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError when not a number
        except ValueError as exc:
            raise SettingsError("DATABASE_URL", f"malformed PostgreSQL URL ({exc})") from None
        if not parts.hostname and "host=" not in (parts.query or ""):
            raise SettingsError("DATABASE_URL", "a PostgreSQL URL needs a host")
        if not parts.path.strip("/"):
            raise SettingsError("DATABASE_URL", "a PostgreSQL URL needs a database name")
        if port is not None and not 0 < port < 65536:
            raise SettingsError("DATABASE_URL", f"port {port} is out of range")
        normalised = urlunsplit(parts._replace(scheme="postgresql"))
        return DatabaseTarget(engine="postgres", url=normalised)
    raise SettingsError(
        "DATABASE_URL",
        f"unsupported scheme {scheme!r}; use sqlite:///PATH or postgresql://USER@HOST:PORT/DBNAME",
    )


def _resolve_dir(name: str, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def _ensure_writable_dir(name: str, path: Path) -> None:
    """Create the directory and prove we can write a file in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SettingsError(name, f"{path} is not a writable directory ({reason})") from None


def _secret_key(env: Mapping[str, str], var_dir: Path) -> str:
    """Use SECRET_KEY when set; otherwise keep a generated key in var/secret_key."""
    value = env.get("SECRET_KEY", "")
    if value:
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                "SECRET_KEY", f"must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        return value
    key_file = var_dir / "secret_key"
    try:
        if not key_file.exists():
            _write_new_key(key_file)
        stored = key_file.read_text().strip()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SettingsError("SECRET_KEY", f"cannot read or create {key_file} ({reason})") from None
    if len(stored) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError("SECRET_KEY", f"{key_file} holds a key that is too short")
    return stored


def _write_new_key(key_file: Path) -> None:
    """Write the whole key to a private temp file, then link it into place: processes
    starting together all end up reading the one key that won, never a partial file."""
    key = secrets.token_urlsafe(48) + "\n"
    write_whole(key_file, key.encode(), prefix=".secret_key-", keep_existing=True)


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("PORT", "8000").strip()
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError("PORT", f"{raw!r} is not a port number (1-65535)")
    return int(raw)


def worker_niceness(env: Mapping[str, str]) -> int:
    """WORKER_NICENESS, 0 to 19 (default 10): the niceness report workers run at, so a
    batch rendering in the background leaves the CPU to requests someone waits on."""
    raw = env.get("WORKER_NICENESS", "10").strip()
    if not raw.isdigit() or int(raw) > 19:
        raise SettingsError("WORKER_NICENESS", f"{raw!r} is not a whole number from 0 to 19")
    return int(raw)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default)).strip()
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(name, f"{raw!r} is not a positive whole number")
    return int(raw)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): only this machine can
    connect."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


# Why a server others can reach needs each of these set, not generated on first run.
OWN_SECRETS = {
    "SECRET_KEY": (
        "a key generated on this machine (it seals queued e-mail and keys the audit chain, "
        "CSRF tokens and link unlocks) is lost or differs with every new var/ directory"
    ),
    "SIGNING_P12": (
        "reports would be signed with the self-signed development certificate, "
        "which no court trusts"
    ),
}


def require_own_secrets(listen_on: str, env: Mapping[str, str] | None = None) -> None:
    """Refuse to serve beyond loopback, or as one of several instances (REDIS_URL), on
    generated secrets: ``listen_on`` is the host the server binds (or a socket, which a
    proxy may expose). On a workstation the generated key and development certificate
    are a convenience; on a server they would sign court reports with a certificate
    nobody trusts, and instances with keys of their own cannot read each other's sealed
    mail or sessions."""
    env = os.environ if env is None else env
    shared = bool(env.get("REDIS_URL", "").strip())
    if is_loopback(listen_on) and not shared:
        return
    where = "REDIS_URL is set" if shared else f"the server listens on {listen_on!r}"
    for name, why in OWN_SECRETS.items():
        if not env.get(name, "").strip():
            raise SettingsError(name, f"must be set when {where}: {why}")


def _base_url(env: Mapping[str, str], host: str, port: int) -> str:
    raw = env.get("BASE_URL", "").strip()
    if not raw:
        if not is_loopback(host):
            # Links and QR codes carry this address; 0.0.0.0 or an internal name is wrong.
            raise SettingsError(
                "BASE_URL", f"must be set to the public address when HOST is {host!r}"
            )
        raw = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("BASE_URL", f"{raw!r} is not an http(s) URL")
    return raw.rstrip("/")


def database_target_from_env(env: Mapping[str, str] | None = None) -> DatabaseTarget:
    env = os.environ if env is None else env
    var_dir = _resolve_dir("VAR_DIR", env.get("VAR_DIR", str(PROJECT_ROOT / "var")))
    default = f"sqlite:///{var_dir / 'compliance.sqlite3'}"
    return parse_database_url(env.get("DATABASE_URL", "").strip() or default)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting. Creates var/ and the report store if missing."""
    env = os.environ if env is None else env
    var_dir = _resolve_dir("VAR_DIR", env.get("VAR_DIR", str(PROJECT_ROOT / "var")))
    _ensure_writable_dir("VAR_DIR", var_dir)
    database = database_target_from_env(env)
    if database.sqlite_path is not None:
        _ensure_writable_dir("DATABASE_URL", database.sqlite_path.parent)
    reports_dir = _resolve_dir("REPORTS_DIR", env.get("REPORTS_DIR", str(PROJECT_ROOT / "reports")))
    _ensure_writable_dir("REPORTS_DIR", reports_dir)
    host = env.get("HOST", "127.0.0.1").strip() or "127.0.0.1"
    port = _port(env)
    return Settings(
        database=database,
        secret_key=_secret_key(env, var_dir),
        reports_dir=reports_dir,
        var_dir=var_dir,
        base_url=_base_url(env, host, port),
        host=host,
        port=port,
        database_pool_size=_positive_int(env, "DATABASE_POOL_SIZE", 10),
        signing_p12=_signing_p12(env),
        signing_passphrase=env.get("SIGNING_P12_PASSPHRASE", ""),
        timestamp_url=_timestamp_url(env),
        smtp_host=env.get("SMTP_HOST", "").strip(),
        smtp_port=_positive_int(env, "SMTP_PORT", 587),
        smtp_security=_smtp_security(env),
        smtp_username=env.get("SMTP_USERNAME", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        mail_from=env.get("MAIL_FROM", "").strip() or "compliance@localhost",
        background_jobs=env.get("BACKGROUND_JOBS", "1").strip() not in ("0", "false", "no"),
        link_rate_per_client=_positive_int(env, "LINK_RATE_PER_CLIENT", 60),
        link_rate_per_token=_positive_int(env, "LINK_RATE_PER_TOKEN", 30),
        worker_niceness=worker_niceness(env),
        redis_url=_redis_url(env),
        worker_in_app=_flag(env, "WORKER_IN_APP", True),
    )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, f"{raw!r}: use 1 or 0")


def _redis_url(env: Mapping[str, str]) -> str:
    raw = env.get("REDIS_URL", "").strip()
    if raw and urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(
            "REDIS_URL", f"{redact_url(raw)!r} is not a Redis URL (redis://HOST:PORT/DB)"
        )
    return raw


def _smtp_security(env: Mapping[str, str]) -> str:
    raw = env.get("SMTP_SECURITY", "starttls").strip().lower() or "starttls"
    if raw not in ("starttls", "tls", "none"):
        raise SettingsError("SMTP_SECURITY", f"{raw!r}: use starttls, tls or none")
    return raw


def _signing_p12(env: Mapping[str, str]) -> Path | None:
    raw = env.get("SIGNING_P12", "").strip()
    if not raw:
        return None
    path = _resolve_dir("SIGNING_P12", raw)
    if not path.is_file():
        raise SettingsError("SIGNING_P12", f"{path} is not a readable PKCS#12 file")
    return path


def _timestamp_url(env: Mapping[str, str]) -> str:
    raw = env.get("TIMESTAMP_URL", "").strip()
    if raw and urlsplit(raw).scheme not in ("http", "https"):
        raise SettingsError("TIMESTAMP_URL", f"{raw!r} is not an http(s) URL")
    return raw
