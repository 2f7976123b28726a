"""Plugin settings: stored per instance, secrets encrypted at rest and never read back out.

A plugin declares its settings with the ``formflow_settings`` hook; administrators set them
on the plugin's settings page. Secret values are encrypted with Fernet (AES with an HMAC)
under a key derived from the instance's secret key by HKDF, so a copy of the database alone
does not give away an API key. Changing the instance's secret key makes stored secrets
unreadable: they read as unset and must be entered again.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, delete, insert, select

from formflow.errors import FormflowError
from formflow.plugin_kit import PluginSetting
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import plugin_settings

KEY_INFO = b"formflow plugin settings v1"


class UnknownSetting(FormflowError):
    """A plugin or setting that no loaded plugin declares."""


def fernet_for(secret_key: str) -> Fernet:
    """The cipher for plugin secrets, derived from the instance's secret key."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class PluginSettings:
    """Read and write the settings the loaded plugins declare, in one instance."""

    def __init__(
        self, engine: Engine, secret_key: str, specs: Mapping[str, Sequence[PluginSetting]]
    ) -> None:
        self.engine = engine
        self.specs = specs
        self._fernet = fernet_for(secret_key)

    def declared(self, plugin: str) -> Sequence[PluginSetting]:
        try:
            return self.specs[plugin]
        except KeyError:
            raise UnknownSetting(f"plugin {plugin!r} has no settings") from None

    def values(self, plugin: str) -> dict[str, str]:
        """Every setting of ``plugin``: the stored value, else the default; secrets in clear."""
        declared = self.declared(plugin)
        stored = self._stored(plugin)
        values: dict[str, str] = {}
        for setting in declared:
            found = stored.get(setting.key)
            values[setting.key] = setting.default if found is None else found
        return values

    def secrets_set(self, plugin: str) -> set[str]:
        """The keys of ``plugin``'s secret settings that have a readable stored value."""
        stored = self._stored(plugin)
        return {s.key for s in self.declared(plugin) if s.secret and stored.get(s.key)}

    def save(self, plugin: str, changes: Mapping[str, str]) -> None:
        """Store ``changes``; an empty secret keeps the stored one (it is never shown, so
        the form sends it empty), an empty plain value goes back to the default."""
        declared = {setting.key: setting for setting in self.declared(plugin)}
        unknown = sorted(set(changes) - set(declared))
        if unknown:
            raise UnknownSetting(f"plugin {plugin!r} has no setting {', '.join(unknown)}")
        now = datetime.now(UTC)
        table = plugin_settings
        with write_transaction(self.engine) as connection:
            for key, value in changes.items():
                setting = declared[key]
                if setting.secret and not value:
                    continue
                where = (table.c.plugin == plugin) & (table.c.key == key)
                connection.execute(delete(table).where(where))
                if not value:
                    continue
                stored = self._fernet.encrypt(value.encode()).decode() if setting.secret else value
                connection.execute(
                    insert(table).values(
                        plugin=plugin,
                        key=key,
                        value=stored,
                        encrypted=setting.secret,
                        updated_at=now,
                    )
                )

    def _stored(self, plugin: str) -> dict[str, str]:
        table = plugin_settings
        with read_transaction(self.engine) as connection:
            rows = connection.execute(
                select(table.c.key, table.c.value, table.c.encrypted).where(
                    table.c.plugin == plugin
                )
            ).all()
        found: dict[str, str] = {}
        for key, value, encrypted in rows:
            if encrypted:
                try:
                    value = self._fernet.decrypt(value.encode()).decode()
                except InvalidToken:
                    continue  # the instance's secret key changed: the secret must be re-entered
            found[key] = value
        return found
