"""Settings, read from ``FORMFLOW_*`` environment variables and checked at start-up.

Every setting has a safe default for one machine (an instance folder beside the current
directory, SQLite inside it, the job queue in a SQLite file there, consumed by the server);
moving past one machine is configuration only: point ``FORMFLOW_DATABASE_URL`` at PostgreSQL
and ``FORMFLOW_REDIS_URL`` at Redis.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from formflow.errors import FormflowError
from formflow.storage.database import sqlite_url

logger = logging.getLogger(__name__)

APPS_FOLDER = Path("apps")
"""Where the apps are when FORMFLOW_APPS names none: every folder in it with an app.yaml."""
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SHIPPED_APPS = Path(__file__).resolve().parents[2] / APPS_FOLDER
"""The apps that come with Formflow, beside the engine in a checkout: the
default when the current folder has no ``apps/``, so the commands work from any folder."""


class ConfigError(FormflowError):
    """A setting that cannot be used; the message names the variable and what it expects."""


SMTP_SECURITY = ("starttls", "ssl", "none")
SWITCH_ON = ("1", "true", "yes", "on")
SWITCH_OFF = ("0", "false", "no", "off")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class SmtpSettings:
    """The mail server notifications are sent through (FORMFLOW_SMTP_*)."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str = "formflow@localhost"
    security: str = "starttls"
    """``starttls`` (upgrade the connection), ``ssl`` (TLS from the start) or ``none``."""


@dataclass(frozen=True)
class Settings:
    instance: Path
    database_url: str
    secret_key: str
    apps: tuple[Path, ...]
    plugins_dir: Path | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    language: str = ""
    """The instance's language (``zh`` or ``en``): what new accounts start in, and what a
    request that asks for neither is answered in; empty: new accounts follow their browser."""
    redis_url: str | None = None
    jobs_in_server: bool = True
    uploads: Path | None = None
    max_upload_mb: float = 20.0
    secure_cookies: bool = True
    assets_dir: Path | None = None
    admin_second_factor: bool = False
    password_min_length: int = 8
    trusted_proxies: tuple[IPNetwork, ...] = ()
    """Reverse proxies whose ``X-Forwarded-For`` tells the client's address."""
    webhook_networks: tuple[IPNetwork, ...] = ()
    """Private networks webhooks may be sent to (any address on the internet may be)."""
    password_history: int = 5
    """Administrators must turn on a second factor before anything else."""
    smtp: SmtpSettings | None = None
    """Where notifications are e-mailed from; ``None`` (no FORMFLOW_SMTP_HOST): no e-mail."""
    backups: Path | None = None
    backup_schedule: str = "0 3 * * *"
    """When automatic backups run (cron, on the instance's clock); empty turns them off."""
    backup_keep: int = 7
    """How many backups the automatic ones leave in the backup folder."""
    metrics_token: str = ""
    keep_days: int = 90
    """How long operational logs (delivered events, automation runs, finished jobs, read
    notifications) are kept before the nightly housekeeping deletes them; 0 keeps them all."""
    """A bearer token that may read ``/metrics`` (administrators may anyway)."""
    enabled_plugins: tuple[str, ...] = ()
    """The installed plugins (entry-point names) this instance uses; ``*`` for all."""

    @property
    def uploads_dir(self) -> Path:
        return self.uploads or self.instance / "uploads"

    @property
    def backup_dir(self) -> Path:
        return self.backups or self.instance / "backups"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from ``environ`` (default: the process environment), then ``overrides``."""
    env = os.environ if environ is None else environ
    instance = Path(env.get("FORMFLOW_INSTANCE", "instance")).resolve()
    values: dict[str, object] = {
        "instance": instance,
        "database_url": env.get("FORMFLOW_DATABASE_URL") or sqlite_url(instance / "formflow.db"),
        "secret_key": env.get("FORMFLOW_SECRET_KEY") or "",
        "apps": _paths(env.get("FORMFLOW_APPS")) or _apps_in(APPS_FOLDER) or _apps_in(SHIPPED_APPS),
        "plugins_dir": Path(env["FORMFLOW_PLUGINS_DIR"])
        if env.get("FORMFLOW_PLUGINS_DIR")
        else None,
        "timezone": _timezone(env.get("FORMFLOW_TIMEZONE", "Asia/Shanghai")),
        "language": _language(env.get("FORMFLOW_LANGUAGE", "")),
        "redis_url": _redis_url(env.get("FORMFLOW_REDIS_URL") or None),
        "jobs_in_server": _switch(env, "FORMFLOW_SERVER_JOBS", default=True),
        "uploads": Path(env["FORMFLOW_UPLOADS"]) if env.get("FORMFLOW_UPLOADS") else None,
        "max_upload_mb": _number(env, "FORMFLOW_MAX_UPLOAD_MB", 20.0),
        "secure_cookies": _switch(env, "FORMFLOW_SECURE_COOKIES", default=True),
        "assets_dir": Path(env["FORMFLOW_ASSETS_DIR"]) if env.get("FORMFLOW_ASSETS_DIR") else None,
        "trusted_proxies": _networks(env, "FORMFLOW_TRUSTED_PROXIES"),
        "webhook_networks": _networks(env, "FORMFLOW_WEBHOOK_NETWORKS"),
        "password_min_length": _count(env, "FORMFLOW_PASSWORD_MIN_LENGTH", 8, least=8),
        "password_history": _count(env, "FORMFLOW_PASSWORD_HISTORY", 5, least=0),
        "enabled_plugins": tuple(
            name for name in env.get("FORMFLOW_PLUGINS", "").replace(",", " ").split() if name
        ),
        "admin_second_factor": _switch(env, "FORMFLOW_ADMIN_SECOND_FACTOR", default=False),
        "smtp": _smtp(env),
        "backups": Path(env["FORMFLOW_BACKUP_DIR"]) if env.get("FORMFLOW_BACKUP_DIR") else None,
        "backup_schedule": _backup_schedule(env.get("FORMFLOW_BACKUP_SCHEDULE", "0 3 * * *")),
        "backup_keep": _count(env, "FORMFLOW_BACKUP_KEEP", 7, least=1),
        "metrics_token": env.get("FORMFLOW_METRICS_TOKEN", ""),
        "keep_days": _count(env, "FORMFLOW_KEEP_DAYS", 90, least=0),
    }
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.backup_schedule:
        _check_schedule(settings.backup_schedule, settings.timezone)
    if settings.plugins_dir is not None and not settings.plugins_dir.is_dir():
        raise ConfigError(f"FORMFLOW_PLUGINS_DIR={settings.plugins_dir} is not a folder")
    return settings


def without_password(url: str) -> str:
    """``url`` as it may be shown or kept in a backup: a password in it replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


SCALE_OUT_DOCS = 'docs/operations.md, "Scale past one machine"'
"""Where the steps to serve one instance from several machines are written."""


def unshared_secret(settings: Settings) -> str | None:
    """The warning for a PostgreSQL instance with no ``FORMFLOW_SECRET_KEY``; else None.

    Without the variable each instance folder makes its own key (:func:`instance_secret`).
    On SQLite the database lives in that folder, so one machine serves it; a PostgreSQL
    database is what lets several machines serve one instance, and then each would sign
    sessions and encrypt plugin secrets with a key of its own. One machine on PostgreSQL
    works as it is, so this warns and never refuses."""
    if settings.secret_key:
        return None
    scheme = settings.database_url.split(":", 1)[0].split("+", 1)[0]
    if scheme != "postgresql":
        return None
    return (
        "FORMFLOW_SECRET_KEY is not set: this machine signs sessions and encrypts plugin "
        "secrets with a key made in its own instance folder. If several machines serve this "
        "PostgreSQL database, people signed in on one are signed out on the others and "
        "plugin secrets saved on one cannot be read on the others: set the same "
        f"FORMFLOW_SECRET_KEY on every machine ({SCALE_OUT_DOCS}). One machine alone "
        "needs nothing more."
    )


def warn_unshared_secret(settings: Settings) -> None:
    """Log :func:`unshared_secret`'s warning, if any (``formflow serve`` and ``worker``
    call it as they start)."""
    warning = unshared_secret(settings)
    if warning is not None:
        logger.warning("%s", warning)


def instance_secret(settings: Settings) -> str:
    """The secret key: the configured one, else one made once and kept in the instance."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.instance / "secret_key"
    if not path.exists():
        settings.instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _apps_in(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(path.parent.resolve() for path in folder.glob("*/app.yaml")))


def _paths(text: str | None) -> tuple[Path, ...]:
    """Folders named in a variable, made absolute now: relative ones mean the current folder."""
    return tuple(Path(part).resolve() for part in (text or "").split(os.pathsep) if part)


LANGUAGES = ("zh", "en")


def _language(name: str) -> str:
    if name.strip() not in ("", *LANGUAGES):
        raise ConfigError(f"FORMFLOW_LANGUAGE={name!r} is not a language; use zh or en")
    return name.strip()


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"FORMFLOW_TIMEZONE={name!r} is not a time zone name such as Asia/Shanghai"
        ) from None


def _redis_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(REDIS_SCHEMES):
        raise ConfigError(
            f"FORMFLOW_REDIS_URL={url!r} is not a Redis URL such as redis://127.0.0.1:6379/0"
        )
    return url


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = env.get("FORMFLOW_SMTP_HOST")
    if not host:
        return None
    security = env.get("FORMFLOW_SMTP_TLS", "starttls").lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(
            f"FORMFLOW_SMTP_TLS={security!r} is not one of {', '.join(SMTP_SECURITY)}"
        )
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    return SmtpSettings(
        host=host,
        port=_port(env, "FORMFLOW_SMTP_PORT", default_port),
        user=env.get("FORMFLOW_SMTP_USER") or None,
        password=env.get("FORMFLOW_SMTP_PASSWORD") or None,
        sender=env.get("FORMFLOW_SMTP_FROM") or f"formflow@{host}",
        security=security,
    )


def _networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    found = []
    for part in env.get(name, "").replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not a network such as 10.0.0.0/8") from None
    return tuple(found)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}={text!r} is not a number greater than 0")
    return value


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """An on/off setting. Anything but the words for on and off is refused: a security
    switch written ``enabled`` must not quietly read as off."""
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in SWITCH_ON or text in SWITCH_OFF:
        return text in SWITCH_ON
    raise ConfigError(
        f"{name}={env[name]!r} is neither on ({', '.join(SWITCH_ON)}) "
        f"nor off ({', '.join(SWITCH_OFF)})"
    )


def _count(env: Mapping[str, str], name: str, default: int, *, least: int) -> int:
    """A whole number of at least ``least``; one below is refused rather than raised to it,
    so the instance never runs with another value than the one written."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise ConfigError(f"{name}={env[name]!r} is not a whole number of at least {least}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise ConfigError(f"{name}={env[name]!r} is not a port (1 to 65535)")
    return int(text)


def _backup_schedule(text: str) -> str:
    """The cron text, stripped; empty when turned off (empty or ``off``)."""
    cron = text.strip()
    return "" if cron.lower() == "off" else cron


def _check_schedule(cron: str, zone: ZoneInfo) -> None:
    """Read the backup schedule now, so that a bad one stops the command that starts rather
    than each server worker as it boots."""
    from formflow.jobs.schedule import Schedule, ScheduleError  # formflow.jobs reads settings

    try:
        Schedule(cron, zone)
    except ScheduleError as exc:
        raise ConfigError(f"FORMFLOW_BACKUP_SCHEDULE: {exc}") from None
