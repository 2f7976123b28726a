"""The CRM app's demo (run by ``formflow demo``): a sales company with about a thousand realistic records.

:func:`build` installs the CRM app if needed, adds departments (销售部 with its 华东区 and
华南区 teams, 财务部) and a user for every role, then creates products, leads, customers,
contacts, follow-ups, opportunities, quotes, contracts, payment plans, invoices, payments,
service tickets, sales targets and transfers. Every record goes through the record service
as the user who would enter it, so numbering, audit, permissions and plugins apply as they
do in real use.

The data is made up from word lists, not copied: company names from a place, a trade name,
a line of business and a legal form; credit codes with their check digits worked out
(GB 32100-2015, through :mod:`stdnum.cn.uscc`); mobile numbers that pass ``phonenumbers``.
The same seed gives the same data (dates count back from ``today``). Running it again on an
instance that already has the demo only reports how to sign in.
"""

from __future__ import annotations

import random
import time
from datetime import date, datetime
from pathlib import Path

from formflow import accounts
from formflow.config import Settings
from formflow.definitions.model import Label
from formflow.lifecycle.demos import DEFAULT_SEED, DemoError, DemoLogin, DemoSummary
from formflow.lifecycle.install import initialise, migrate_app
from formflow.lifecycle.instance import Instance, InstanceError
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.storage.database import read_transaction, write_transaction

from .seeder import Member, Seeder
from .words import DEPARTMENTS, DIRECTOR, STAFF

APP_KEY = "crm_sfa"
DEMO_PASSWORD = "demo1234"
ADMIN_USERNAME = "admin"
APP_DIR = Path(__file__).resolve().parents[1]


# building the demo ----------------------------------------------------------------------


def build(
    settings: Settings,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    app_dir: Path | None = None,
) -> DemoSummary:
    """Fill the instance of ``settings`` with the demo company; see the module docstring.

    Installs the CRM app from ``app_dir`` (default: the folder holding this demo) when it is
    not installed.
    Raises :class:`DemoError` for an instance that has other users or customers already.
    """
    started = time.perf_counter()
    folder = app_dir or APP_DIR
    instance = Instance(settings)
    try:
        admin_created = False
        if not _initialised(instance):
            instance.close()
            admin_created = initialise(
                settings, [folder], ADMIN_USERNAME, DEMO_PASSWORD
            ).admin_created
            instance = Instance(settings)
        elif _has_demo(instance):
            return DemoSummary(created=False, logins=_logins(instance))
        else:
            _check_unused(instance)
            if APP_KEY not in instance.app_keys:
                migrate_app(instance, folder, dry_run=False)
        staff = _create_staff(instance, admin_created)
        day = today or datetime.now(settings.timezone).date()
        seeder = Seeder(instance.records(APP_KEY), staff, random.Random(seed), day, settings)
        seeder.run()
        return DemoSummary(
            created=True,
            logins=_logins(instance),
            counts=dict(seeder.counts),
            seconds=time.perf_counter() - started,
        )
    finally:
        instance.close()


def _initialised(instance: Instance) -> bool:
    try:
        instance.ensure_initialised()
    except InstanceError:
        return False
    return True


def _has_demo(instance: Instance) -> bool:
    with read_transaction(instance.engine) as connection:
        return accounts.find_user(connection, DIRECTOR) is not None


def _check_unused(instance: Instance) -> None:
    """Refuse, changing nothing, an instance with users besides its first admin, or customers."""
    with read_transaction(instance.engine) as connection:
        people = len(accounts.list_users(connection))
    customers = APP_KEY in instance.app_keys and bool(
        instance.records(APP_KEY)
        .find(Actor.system(), "customer", Query(limit=1, with_total=False))
        .rows
    )
    if people > 1 or customers:
        raise DemoError(
            f"the instance at {instance.settings.instance} already has users or customers; "
            "the demo only goes into a new instance: set FORMFLOW_INSTANCE to a new folder"
        )


def _create_staff(instance: Instance, admin_created: bool) -> dict[str, Member]:
    password_hash = accounts.hash_password(DEMO_PASSWORD)
    with write_transaction(instance.engine) as connection:
        ids: dict[str, int] = {}
        for name, parent in DEPARTMENTS:
            ids[name] = accounts.create_department(
                connection, name, parent_id=ids[parent] if parent else None
            )
        members: dict[str, Member] = {}
        managers: dict[str, int] = {}
        for username, display_name, role, team in STAFF:
            user_id = accounts.create_user(
                connection,
                username,
                None,
                password_hash=password_hash,
                display_name=display_name,
                department_id=ids[team],
                roles={APP_KEY: [role]},
            )
            managers.setdefault(team, user_id)
            user = accounts.get_user(connection, user_id)
            assert user is not None
            members[username] = Member(
                user, accounts.actor_for(connection, user, APP_KEY), role, team
            )
        for team, manager_id in managers.items():
            accounts.update_department(
                connection,
                ids[team],
                name=team,
                parent_id=_parent(ids, team),
                manager_id=manager_id,
            )
        admin = accounts.find_user(connection, ADMIN_USERNAME)
        if admin_created and admin is not None:
            accounts.set_roles(connection, admin.id, APP_KEY, ["admin"])
    return members


def _parent(ids: dict[str, int], team: str) -> int | None:
    parent = dict(DEPARTMENTS)[team]
    return ids[parent] if parent else None


def _logins(instance: Instance) -> list[DemoLogin]:
    roles = {role.key: role.label for role in instance.app(APP_KEY).roles}
    logins = []
    with read_transaction(instance.engine) as connection:
        admin = accounts.find_user(connection, ADMIN_USERNAME)
        if admin is not None and admin.is_admin:
            known = accounts.authenticate(connection, ADMIN_USERNAME, DEMO_PASSWORD) is not None
            label = _role_label(roles["admin"]) if "admin" in roles else "Administrator"
            logins.append(
                DemoLogin(
                    label, admin.display_name, admin.username, DEMO_PASSWORD if known else None
                )
            )
        for username, display_name, role, _team in STAFF:
            logins.append(
                DemoLogin(_role_label(roles[role]), display_name, username, DEMO_PASSWORD)
            )
    return logins


def _role_label(label: Label) -> str:
    return f"{label.text('en')} ({label.text('zh')})"
