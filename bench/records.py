"""How the record service holds up at a million records, next to plain SQLAlchemy Core.

Run: ``.venv/bin/python bench/records.py [--database sqlite|postgresql|both] [--rows N]
[--quick] [--keep] [--profile]``.

For each database it installs the real CRM app (``apps/crm_sfa``) in a fresh database, adds
50 users in six sales teams and 20,000 customers, bulk-loads N opportunities, and then times
each operation twice in the same run: through the record service, and written by hand in
SQLAlchemy Core against the same table and indexes (the baseline):

- creating an opportunity, in one process and in 8 processes at once (with the errors);
- a filtered, sorted page of 50 with its total, first page and page 200 (by cursor and by
  offset), as an admin, a sales rep (own records) and a sales manager (department);
- sums grouped by stage, by owner and by month of the expected close date.

It prints a table per database and writes it, with the query plans of the pages that miss
the 2 ms aim (and with ``--profile``, where a create and a page spend their time), to
``bench/results/records-<database>.md``.

SQLite lives in ``bench/results/records-<rows>.db``; PostgreSQL in the database
``formflow_bench`` on the server at ``FORMFLOW_BENCH_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``). Both are made afresh unless ``--keep``
finds them already loaded with the same number of rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    func,
    insert,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.exc import DBAPIError

from _common import (
    PostgresLoader,
    SqliteLoader,
    Summary,
    markdown_table,
    measure_pair,
    measure_rounds,
    ms,
    plans_of,
    profile,
    publish,
    text_table,
)
from formflow import accounts
from formflow.definitions import load_app
from formflow.definitions.model import Measure
from formflow.records.access import Actor
from formflow.records.aggregates import Aggregation
from formflow.records.query import TOTAL_CAP, Query
from formflow.records.search import ensure_search_index, search_document
from formflow.records.service import RecordService
from formflow.storage.database import connect, read_transaction, write_transaction
from formflow.storage.migrations import migrate
from formflow.storage.platform_tables import users
from formflow.storage.tables import DELETED_AT, DELETED_BY, DEPARTMENT, SEARCH, AppSchema

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "apps" / "crm_sfa"
RESULTS = ROOT / "bench" / "results"
APP_KEY = "crm_sfa"
FORM = "opportunity"
POSTGRES_ADMIN_URL = os.environ.get(
    "FORMFLOW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_DATABASE = "formflow_bench"
SEED = 20261124
PAGE_AIM_MS = 2.0
WRITE_AIM_RATIO = 2.0
PAGE_SIZE = 50
TEAMS = ("华北", "华东", "华南", "华中", "西南", "海外")
REPS_PER_TEAM = 7


@dataclass(frozen=True)
class Settings:
    rows: int
    customers: int
    creates: int
    writers: int
    per_writer: int
    repeats: int
    aggregate_repeats: int
    deep_page: int
    case_budget_s: float
    keep: bool
    profile: bool


# people -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """Who owns what: user ids, their departments, and how opportunities are spread.

    Owners follow a Zipf-like spread (a few reps hold much of the pipeline); ``rep`` is the
    busiest one, so that even "stage = negotiation AND owner = rep" reaches page 200, and
    ``manager`` leads rep's team.
    """

    admin: int
    department_of: Mapping[int, int]
    owners: Sequence[int]
    weights: Sequence[float]
    rep: int
    manager: int


def create_people(engine: Engine) -> None:
    """A head office and six sales teams of a manager and seven reps; an admin, a director."""
    hashed = "scrypt:bench:not-a-password"  # nobody logs in; hashing 50 passwords costs seconds
    crm = APP_KEY
    with write_transaction(engine) as connection:
        office = accounts.create_department(connection, "销售中心")
        for username, role in (("admin", "admin"), ("director", "sales_director")):
            accounts.create_user(
                connection,
                username,
                None,
                password_hash=hashed,
                department_id=office,
                is_admin=role == "admin",
                roles={crm: [role]},
            )
        for number, name in enumerate(TEAMS, 1):
            team = accounts.create_department(connection, f"{name}销售部", parent_id=office)
            people = [(f"manager{number}", "sales_manager")] + [
                (f"rep{number}{index}", "sales_rep") for index in range(1, REPS_PER_TEAM + 1)
            ]
            for username, role in people:
                accounts.create_user(
                    connection,
                    username,
                    None,
                    password_hash=hashed,
                    department_id=team,
                    roles={crm: [role]},
                )


def read_team(engine: Engine) -> Team:
    with read_transaction(engine) as connection:
        found = {
            row.username: (row.id, row.department_id)
            for row in connection.execute(
                select(users.c.id, users.c.username, users.c.department_id)
            )
        }
    reps = sorted(name for name in found if name.startswith("rep"))
    random.Random(SEED).shuffle(reps)
    managers = sorted(name for name in found if name.startswith("manager"))
    rep_weights = [1 / rank**0.8 for rank in range(1, len(reps) + 1)]
    manager_weight = 0.3 * sum(rep_weights) / len(rep_weights)
    busiest = found[reps[0]]
    manager = next(found[m][0] for m in managers if found[m][1] == busiest[1])
    return Team(
        admin=found["admin"][0],
        department_of={user_id: department for user_id, department in found.values()},
        owners=[found[name][0] for name in (*reps, *managers)],
        weights=[*rep_weights, *(manager_weight for _ in managers)],
        rep=busiest[0],
        manager=manager,
    )


def actor_of(engine: Engine, user_id: int) -> Actor:
    with read_transaction(engine) as connection:
        user = accounts.get_user(connection, user_id)
        assert user is not None
        return accounts.actor_for(connection, user, APP_KEY)


# generated data -----------------------------------------------------------------------

CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "苏州")
WORDS = ("星辰", "华信", "远航", "瑞丰", "恒通", "金桥", "博雅", "中科", "天成", "新锐", "鼎盛")
TRADES = ("信息技术", "智能制造", "医疗器械", "物流", "新能源", "教育科技", "食品", "建材")
PRODUCTS = ("ERP 升级", "CRM 实施", "数据平台", "云迁移", "安全审计", "MES 项目", "BI 报表")
PHASES = ("一期", "二期", "续约", "扩容", "试点")
DESCRIPTIONS = (
    "客户希望在年底前完成核心系统替换，预算已批。",
    "Decision maker changed; the new CIO wants a pilot before signing.",
    "竞争对手报价低 15%，需要突出实施经验与售后服务。",
    "Renewal with upsell of 200 seats; procurement asks for a three-year price lock.",
)
SOURCES = ("website", "exhibition", "cold_call", "referral", "advertising", "partner", "other")
RATINGS = ("hot", "warm", "cold", None)
OPEN_STAGES = ("initial_contact", "needs_analysis", "proposal", "negotiation")
OPEN_WEIGHTS = (30, 25, 25, 20)
PROBABILITY = {
    "initial_contact": 10,
    "needs_analysis": 20,
    "proposal": 50,
    "negotiation": 80,
    "won": 100,
    "lost": 0,
}
LOST_REASONS = ("price", "competitor", "no_budget", "product_fit", "no_decision")
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DAY = 86_400.0
CENT = Decimal("0.01")


def credit_code(number: int) -> str:
    """A unique code of the shape the customer form checks (18 characters)."""
    tail = ""
    for _ in range(10):
        number, digit = divmod(number, len(CREDIT_CHARS))
        tail = CREDIT_CHARS[digit] + tail
    return f"91{310000 + number % 1000:06d}{tail}"


def customer_rows(count: int, team: Team, now: datetime) -> Iterator[dict[str, Any]]:
    rng = random.Random(SEED + 1)
    span = 3 * 365 * DAY
    owners = rng.choices(team.owners, weights=team.weights, k=count)
    for index in range(count):
        short = f"{rng.choice(WORDS)}{rng.choice(WORDS)}"
        name = f"{rng.choice(CITIES)}{short}{rng.choice(TRADES)}有限公司"
        owner = None if rng.random() < 0.1 else owners[index]
        created = datetime.fromtimestamp(now.timestamp() - span * (1 - index / count), UTC)
        code, phone, email = (
            credit_code(index),
            f"021-{60000000 + index}",
            f"info{index}@example.cn",
        )
        yield {
            "id": index + 1,
            "name": name,
            "short_name": short,
            "credit_code": code,
            "source": rng.choice(SOURCES),
            "level": rng.choice("ABCD"),
            "industry": rng.choice(("it", "manufacturing", "finance", "retail", "healthcare")),
            "region": rng.choice(("north_china", "east_china", "south_china", "southwest")),
            "phone": phone,
            "email": email,
            "status": rng.choices(("potential", "intent", "deal", "churned"), (4, 3, 2, 1))[0],
            "owner": owner,
            "in_pool": owner is None,
            "locked": False,
            "sms_opt_out": False,
            "next_follow_up": (now + timedelta(days=rng.randint(1, 60))).date(),
            **_system(created, now, owner, team, rng),
            SEARCH: search_document([name, short, code, phone, email]),
        }


def opportunity_rows(
    count: int, team: Team, customers: Sequence[Mapping[str, Any]], now: datetime
) -> Iterator[dict[str, Any]]:
    """Two years of opportunities, oldest first; older ones are mostly won or lost.

    Each is for a customer its owner owns (any customer, for an owner who has none).
    """
    everyone = [(row["id"], row["short_name"]) for row in customers]
    owned: dict[int, list[tuple[int, str]]] = {}
    for row in customers:
        if row["owner"] is not None:
            owned.setdefault(row["owner"], []).append((row["id"], row["short_name"]))
    rng = random.Random(SEED + 2)
    span = 2 * 365 * DAY
    start = now.timestamp() - span
    owners = rng.choices(team.owners, weights=team.weights, k=count)
    for index in range(count):
        created = datetime.fromtimestamp(start + span * (index + rng.random()) / count, UTC)
        closed = rng.random() < 0.15 + 0.8 * (1 - index / count)
        if closed:
            stage = "won" if rng.random() < 0.45 else "lost"
        else:
            stage = rng.choices(OPEN_STAGES, OPEN_WEIGHTS)[0]
        owner = owners[index]
        customer, short = rng.choice(owned.get(owner) or everyone)
        name = f"{short} {rng.choice(PRODUCTS)} {rng.choice(PHASES)}"
        description = rng.choice(DESCRIPTIONS) if rng.random() < 0.3 else None
        amount = Decimal(f"{rng.lognormvariate(11.5, 1.0):.2f}")
        probability = PROBABILITY[stage]
        expected = (created + timedelta(days=rng.randint(30, 180))).date()
        row = {
            "id": index + 1,
            "name": name,
            "customer": customer,
            "source": rng.choice(SOURCES),
            "rating": rng.choice(RATINGS),
            "stage": stage,
            "amount": amount,
            "probability": Decimal(probability),
            "weighted_amount": (amount * probability / 100).quantize(CENT),
            "expected_close_date": expected,
            "actual_close_date": expected + timedelta(days=rng.randint(-30, 10))
            if closed
            else None,
            "owner": owner,
            "lost_reason": rng.choice(LOST_REASONS) if stage == "lost" else None,
            "description": description,
            **_system(created, now, owner, team, rng),
            SEARCH: search_document([name, description]),
        }
        row["stage_changed_at"] = row["updated_at"]
        yield row


def _system(
    created: datetime, now: datetime, owner: int | None, team: Team, rng: random.Random
) -> dict[str, Any]:
    """The columns the record service sets itself; one row in 200 is in the recycle bin."""
    author = owner or team.admin
    updated = created + (now - created) * rng.random() ** 3
    deleted = rng.random() < 0.005
    return {
        "created_at": created,
        "updated_at": updated,
        "created_by": author,
        "updated_by": author,
        "version": rng.randint(1, 6),
        DEPARTMENT: team.department_of.get(owner) if owner else None,
        DELETED_AT: updated if deleted else None,
        DELETED_BY: author if deleted else None,
    }


# loading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One database to benchmark: its kind, its URL, and for SQLite its file."""

    kind: str
    url: str
    path: Path | None = None


def fresh_target(kind: str, rows: int, *, keep: bool) -> Target:
    """The database to use, emptied first unless ``keep``."""
    if kind == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"records-{rows}.db"
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return Target(kind, f"sqlite:///{path}", path)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{POSTGRES_DATABASE}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [POSTGRES_DATABASE]
        ).fetchone()
        if not (keep and exists):
            name = sql.Identifier(POSTGRES_DATABASE)
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return Target(kind, url)


def loaded_rows(engine: Engine) -> int | None:
    """How many opportunities an earlier, finished load of this database put in."""
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT rows FROM bench_info").scalar_one())
    except DBAPIError:
        return None


@dataclass(frozen=True)
class LoadTimes:
    install_s: float
    insert_s: float
    index_s: float
    analyze_s: float

    @property
    def total_s(self) -> float:
        return self.install_s + self.insert_s + self.index_s + self.analyze_s


def install_and_load(target: Target, engine: Engine, settings: Settings) -> LoadTimes:
    """Migrate the CRM app, add the people, then bulk-load customers and opportunities.

    The loader drops the two tables' indexes (and SQLite's search triggers) first and builds
    them again from their own definitions afterwards: building an index once from sorted
    data is many times faster than keeping fourteen of them up to date row by row.
    """
    clock = time.perf_counter()
    result = migrate(engine, APP_DIR, dry_run=False, note="records benchmark")
    assert result.applied
    schema = AppSchema(load_app(APP_DIR))
    with write_transaction(engine) as connection:
        for form_key in schema.app.forms:  # what `formflow migrate` does after migrating
            ensure_search_index(connection, schema, form_key)
    create_people(engine)
    team = read_team(engine)
    install_s, clock = time.perf_counter() - clock, time.perf_counter()
    now = datetime.now(UTC)
    customer_table, opportunity_table = schema.table("customer"), schema.table(FORM)
    names = [customer_table.name, opportunity_table.name]
    with make_loader(target, engine) as loader:
        definitions = loader.drop_indexes(names)
        customers = list(customer_rows(settings.customers, team, now))
        loader.insert(customer_table, customers)
        loader.insert(opportunity_table, opportunity_rows(settings.rows, team, customers, now))
        insert_s, clock = time.perf_counter() - clock, time.perf_counter()
        loader.build_indexes(definitions, names)
        index_s, clock = time.perf_counter() - clock, time.perf_counter()
        loader.analyze(settings.rows)
        analyze_s = time.perf_counter() - clock
    return LoadTimes(install_s, insert_s, index_s, analyze_s)


def make_loader(target: Target, engine: Engine) -> SqliteLoader | PostgresLoader:
    if target.path is not None:
        return SqliteLoader(target.path, engine.dialect)
    return PostgresLoader(target.url)


def database_size(target: Target, engine: Engine) -> str:
    if target.path is not None:
        return f"{target.path.stat().st_size / 2**20:,.0f} MiB file"
    with engine.connect() as connection:
        size = connection.exec_driver_sql("SELECT pg_database_size(current_database())")
        return f"{size.scalar_one() / 2**20:,.0f} MiB database"


# writes -------------------------------------------------------------------------------


def submitted(rng: random.Random, customers: Sequence[int]) -> dict[str, Any]:
    """What a sales rep types into the opportunity form."""
    stage = rng.choice(OPEN_STAGES)
    close = date.today() + timedelta(days=rng.randint(30, 180))
    return {
        "name": f"{rng.choice(WORDS)} {rng.choice(PRODUCTS)} {rng.randint(1, 999_999)}",
        "customer": rng.choice(customers),
        "stage": stage,
        "amount": f"{rng.lognormvariate(11.5, 1.0):.2f}",
        "probability": PROBABILITY[stage],
        "expected_close_date": close.isoformat(),
        "source": rng.choice(SOURCES),
        "rating": "warm",
        "description": rng.choice(DESCRIPTIONS),
    }


class Writer:
    """Creates opportunities as one actor: through the service, or by a plain Core insert."""

    def __init__(self, url: str, actor: Actor, customers: Sequence[int], seed: int) -> None:
        self.engine = connect(url)
        self.service = RecordService(self.engine, AppSchema(load_app(APP_DIR)))
        self.table = self.service.schema.table(FORM)
        self.actor = actor
        self.customers = customers
        self.rng = random.Random(seed)

    def through_service(self) -> None:
        self.service.create(self.actor, FORM, submitted(self.rng, self.customers))

    def through_core(self) -> None:
        """The same row a hand-written app would store: typed values, times, search text."""
        values = submitted(self.rng, self.customers)
        now = datetime.now(UTC)
        amount, probability = Decimal(values["amount"]), Decimal(values["probability"])
        user = self.actor.user_id
        row = {
            **values,
            "amount": amount,
            "probability": probability,
            "weighted_amount": (amount * probability / 100).quantize(CENT),
            "expected_close_date": date.fromisoformat(values["expected_close_date"]),
            "owner": user,
            "created_at": now,
            "updated_at": now,
            "created_by": user,
            "updated_by": user,
            "version": 1,
            DEPARTMENT: self.actor.department_id,
            SEARCH: search_document([values["name"], values["description"]]),
        }
        with self.engine.begin() as connection:
            connection.execute(insert(self.table).values(row).returning(self.table.c.id)).one()

    def action(self, kind: str) -> Callable[[], None]:
        return self.through_service if kind == "service" else self.through_core


@dataclass(frozen=True)
class Writes:
    """Creates one way (service or Core): per second, latency, and what failed."""

    rate: float
    latency: Summary | None = None
    errors: int = 0
    first_error: str | None = None


@dataclass(frozen=True)
class WriteResult:
    label: str
    service: Writes
    core: Writes

    @property
    def ratio(self) -> float:
        """How many times longer a create takes through the service."""
        return self.core.rate / self.service.rate

    @property
    def meets_aim(self) -> bool:
        return self.ratio <= WRITE_AIM_RATIO and self.service.errors == 0


def single_writer(writer: Writer, count: int) -> WriteResult:
    """``count`` creates each way, alternating in blocks of 50 so drift hits both alike."""
    samples: dict[str, list[float]] = {"service": [], "core": []}
    for _ in range(max(1, count // 50)):
        for kind, found in samples.items():
            action = writer.action(kind)
            for _ in range(50):
                started = time.perf_counter()
                action()
                found.append((time.perf_counter() - started) * 1000)
    service, core = (
        Writes(len(found) * 1000 / sum(found), Summary.of(found)) for found in samples.values()
    )
    return WriteResult("create, 1 process", service, core)


def write_worker(
    kind: str,
    url: str,
    actor: Actor,
    customers: Sequence[int],
    count: int,
    seed: int,
    barrier: Any,
    results: Any,
) -> None:
    """One of the concurrent writers (run in a spawned process): wait for all, then write.

    Reports its start and end (wall clock, comparable across processes), how many creates
    succeeded, and the errors, the first of them in full.
    """
    writer = Writer(url, actor, customers, seed)
    action = writer.action(kind)
    errors: list[str] = []
    try:
        action()  # connects and warms SQLAlchemy's statement cache before the clock starts
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    barrier.wait()
    started, done = time.time(), 0
    for _ in range(count):
        try:
            action()
            done += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    results.put((started, time.time(), done, errors))
    writer.engine.dispose()


def concurrent_writers(
    url: str, actor: Actor, customers: Sequence[int], settings: Settings
) -> WriteResult:
    """``settings.writers`` processes creating at once, through the service, then by Core."""
    context = multiprocessing.get_context("spawn")
    outcome: dict[str, Writes] = {}
    for kind in ("service", "core"):
        barrier, results = context.Barrier(settings.writers), context.Queue()
        processes = [
            context.Process(
                target=write_worker,
                args=(kind, url, actor, customers, settings.per_writer, SEED + n, barrier, results),
            )
            for n in range(settings.writers)
        ]
        for process in processes:
            process.start()
        reports = [results.get(timeout=1800) for _ in processes]
        for process in processes:
            process.join()
        seconds = max(r[1] for r in reports) - min(r[0] for r in reports)
        errors = [error for report in reports for error in report[3]]
        rate = sum(r[2] for r in reports) / seconds
        outcome[kind] = Writes(rate, None, len(errors), errors[0] if errors else None)
    label = f"create, {settings.writers} processes at once"
    return WriteResult(label, outcome["service"], outcome["core"])


# pages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageCase:
    """One list as one user sees it: the service's filter and the hand-written WHERE."""

    label: str
    actor: Actor
    filter: Mapping[str, Any] | None
    where: Sequence[ColumnElement[bool]]


@dataclass(frozen=True)
class Spot:
    """Where a page starts (first page, after a cursor, at an offset); with its total or not.

    ``boundary`` is the sort values the cursor stands for, which the Core page starts after.
    """

    cursor: str | None = None
    boundary: tuple[datetime, int] | None = None
    offset: int = 0
    with_total: bool = True


@dataclass(frozen=True)
class Timed:
    label: str
    service: Summary
    core: Summary
    same: bool
    aim_ms: float | None = None
    plans: str | None = None

    @property
    def meets_aim(self) -> bool | None:
        return None if self.aim_ms is None else self.service.p95 < self.aim_ms


class Pages:
    """Times a page of 50 with its total, through the service and in plain Core."""

    def __init__(self, engine: Engine, service: RecordService, settings: Settings) -> None:
        self.engine = engine
        self.service = service
        self.settings = settings
        self.table = service.schema.table(FORM)
        self.columns = [c for c in self.table.columns if not c.name.startswith("_")]

    def cases(self, team: Team, actors: Mapping[str, Actor]) -> list[PageCase]:
        t = self.table
        live = t.c[DELETED_AT].is_(None)
        stage = {"field": "stage", "op": "eq", "value": "negotiation"}
        owner = {"field": "owner", "op": "eq", "value": team.rep}
        filters: dict[str, tuple[Mapping[str, Any] | None, list[ColumnElement[bool]]]] = {
            "stage+owner": (
                {"and": [stage, owner]},
                [t.c.stage == "negotiation", t.c.owner == team.rep],
            ),
            "stage": (stage, [t.c.stage == "negotiation"]),
            "no filter": (None, []),
        }
        found = []
        for filter_label, (spec, where) in filters.items():
            for actor_label, actor in actors.items():
                scope = self.scope(actor_label, actor)
                found.append(
                    PageCase(f"{filter_label}, {actor_label}", actor, spec, [live, *where, *scope])
                )
        return found

    def scope(self, actor_label: str, actor: Actor) -> list[ColumnElement[bool]]:
        """The condition each role's scope adds, as a person would write it by hand."""
        t = self.table
        if actor_label == "rep (own)":
            return [t.c.owner == actor.user_id]
        if actor_label == "manager (department)":  # records follow their owner's department
            return [t.c[DEPARTMENT].in_(sorted(actor.department_ids))]
        return []

    def measure(self, cases: Sequence[PageCase]) -> list[Timed]:
        """Every case's pages, timed in rounds (see ``measure_rounds``); plans for misses."""
        specs = [spec for case in cases for spec in self.specs(case)]
        pairs = [(service, core) for _, service, core in specs]
        timings = measure_rounds(pairs, self.settings.repeats, budget_s=self.settings.case_budget_s)
        results = []
        for (label, service, core), (service_time, core_time) in zip(specs, timings, strict=True):
            timed = Timed(label, service_time, core_time, service() == core(), PAGE_AIM_MS)
            if not timed.meets_aim:
                timed = replace(timed, plans=plans_of(self.engine, service))
            results.append(timed)
        return results

    def specs(self, case: PageCase) -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
        """The pages of one case: first (with and without its total), then deep by cursor
        and by offset if the list is that long."""
        deep = self.settings.deep_page
        spots = [("page 1", Spot()), ("page 1 without total", Spot(with_total=False))]
        found = self.cursor_for(case, deep)
        if found is not None:
            offset = (deep - 1) * PAGE_SIZE
            spots += [
                (f"page {deep} by cursor", Spot(*found)),
                (f"page {deep} by offset {offset:,}", Spot(offset=offset)),
            ]
        return [(f"{case.label}: {name}", *self.actions(case, spot)) for name, spot in spots]

    def cursor_for(self, case: PageCase, page: int) -> tuple[str, tuple[datetime, int]] | None:
        """The cursor of page ``page``, found by walking the pages before it (untimed)."""
        cursor: str | None = None
        last: Mapping[str, Any] = {}
        for _ in range(page - 1):
            query = Query(filter=case.filter, limit=PAGE_SIZE, cursor=cursor, with_total=False)
            result = self.service.find(case.actor, FORM, query)
            if result.next_cursor is None:
                return None
            cursor, last = result.next_cursor, result.rows[-1]
        assert cursor is not None
        return cursor, (last["created_at"], last["id"])

    def actions(self, case: PageCase, spot: Spot) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """The page through the service and through Core; each returns (ids, total)."""
        query = Query(
            filter=case.filter,
            limit=PAGE_SIZE,
            cursor=spot.cursor,
            offset=spot.offset,
            with_total=spot.with_total,
        )

        def through_service() -> tuple[list[int], int | None]:
            page = self.service.find(case.actor, FORM, query)
            return [row["id"] for row in page.rows], page.total

        def through_core() -> tuple[list[int], int | None]:
            rows, total = self.core_page(case.where, spot)
            return [row["id"] for row in rows[:PAGE_SIZE]], total

        return through_service, through_core

    def core_page(
        self, where: Sequence[ColumnElement[bool]], spot: Spot
    ) -> tuple[list[dict[str, Any]], int | None]:
        """The hand-written page: same WHERE, ORDER BY, LIMIT; a count stopped at the cap."""
        t = self.table
        statement = select(*self.columns).where(*where)
        if spot.boundary is not None:
            at, last_id = spot.boundary
            bound = tuple_(literal(at, t.c.created_at.type), literal(last_id, t.c.id.type))
            statement = statement.where(tuple_(t.c.created_at, t.c.id) < bound)
        statement = statement.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(PAGE_SIZE + 1)
        if spot.offset:
            statement = statement.offset(spot.offset)
        matching: Select[Any] = (
            select(literal_column("1")).select_from(t).where(*where).limit(TOTAL_CAP + 1)
        )
        total = None
        with self.engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(statement).mappings()]
            if spot.with_total:
                count = select(func.count()).select_from(matching.subquery())
                total = min(connection.execute(count).scalar_one(), TOTAL_CAP)
        return rows, total

    def floor(self) -> Timed:
        """What any read pays before its query: the service's read transaction around
        ``SELECT 1``, next to ``SELECT 1`` on a plain connection."""

        def through_service() -> None:
            with read_transaction(self.engine) as connection:
                connection.execute(select(literal_column("1"))).scalar_one()

        def through_core() -> None:
            with self.engine.connect() as connection:
                connection.execute(select(literal_column("1"))).scalar_one()

        service, core = measure_pair(through_service, through_core, 200, budget_s=5)
        return Timed("floor: SELECT 1 (service: in its read transaction)", service, core, True)


# aggregates ---------------------------------------------------------------------------

GROUPINGS = {
    "by stage": ("stage", None),
    "by owner": ("owner", None),
    "by month of expected close": ("expected_close_date", "month"),
}


def measure_aggregates(
    engine: Engine,
    service: RecordService,
    actors: Mapping[str, Actor],
    pages: Pages,
    settings: Settings,
) -> list[Timed]:
    """Sum of amount and count per group, as the admin (all rows) and as the rep (own)."""
    results = []
    for actor_label in ("admin", "rep (own)"):
        actor = actors[actor_label]
        scope = pages.scope(actor_label, actor)
        for label, (key, bucket) in GROUPINGS.items():
            through_service, through_core = grouped_sums(engine, service, actor, scope, key, bucket)
            same = through_service() == through_core()
            service_time, core_time = measure_pair(
                through_service, through_core, settings.aggregate_repeats, warmup=1
            )
            plans = plans_of(engine, through_service) if actor_label == "admin" else None
            title = f"sum and count {label}, {actor_label}"
            results.append(Timed(title, service_time, core_time, same, plans=plans))
    return results


def grouped_sums(
    engine: Engine,
    service: RecordService,
    actor: Actor,
    scope: Sequence[ColumnElement[bool]],
    key: str,
    bucket: str | None,
) -> tuple[Callable[[], list[Any]], Callable[[], list[Any]]]:
    """One grouping through the service and in Core; each returns (group, count) pairs."""
    t = service.schema.table(FORM)
    measures = (Measure("sum", "amount"), Measure("count"))
    aggregation = Aggregation(measures, (key,), {key: bucket} if bucket else {})
    group = t.c[key] if bucket is None else month_of(engine, t.c[key])
    statement: Select[Any] = (
        select(group.label(key), func.sum(t.c.amount), func.count())
        .where(t.c[DELETED_AT].is_(None), *scope)
        .group_by(group)
        .order_by(group)
    )

    def through_service() -> list[Any]:
        rows = service.aggregate(actor, FORM, aggregation)
        return sorted((str(row[key]), row["count"]) for row in rows)

    def through_core() -> list[Any]:
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
        return sorted((str(row[0]), row[2]) for row in rows)

    return through_service, through_core


def month_of(engine: Engine, column: Any) -> ColumnElement[str]:
    if engine.dialect.name == "sqlite":
        return func.strftime(literal_column("'%Y-%m'"), column)
    return func.to_char(column, literal_column("'YYYY-MM'"))


# report -------------------------------------------------------------------------------


@dataclass
class Report:
    kind: str
    settings: Settings
    load: LoadTimes | None = None
    size: str = ""
    writes: list[WriteResult] | None = None
    pages: list[Timed] | None = None
    aggregates: list[Timed] | None = None
    profiles: dict[str, str] | None = None
    setting: str = ""
    load_averages: list[float] = field(default_factory=list)

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        found = []
        if self.load:
            load = self.load
            found.append(
                (
                    f"Loading {self.settings.rows:,} opportunities and {self.settings.customers:,} customers ({self.size})",
                    ["step", "seconds"],
                    [
                        ["migrate CRM app, search index, 50 users", f"{load.install_s:.1f}"],
                        ["generate and insert rows (indexes dropped)", f"{load.insert_s:.1f}"],
                        ["build indexes and search index", f"{load.index_s:.1f}"],
                        [
                            "ANALYZE" if self.kind == "sqlite" else "VACUUM ANALYZE",
                            f"{load.analyze_s:.1f}",
                        ],
                        ["total", f"{load.total_s:.1f}"],
                    ],
                )
            )
        if self.writes:
            found.append(
                (
                    "Writes (creates per second; aim: service within 2x of Core, no errors)",
                    WRITE_HEADERS,
                    [write_row(w) for w in self.writes],
                )
            )
        if self.pages:
            found.append(
                (
                    f"A page of {PAGE_SIZE} with its total (ms)",
                    TIMED_HEADERS,
                    [timed_row(t) for t in self.pages],
                )
            )
        if self.aggregates:
            found.append(
                ("Sums grouped (ms)", TIMED_HEADERS, [timed_row(t) for t in self.aggregates])
            )
        return found

    def text(self) -> str:
        return "\n\n".join(f"{title}\n{text_table(h, rows)}" for title, h, rows in self.tables())

    def markdown(self) -> str:
        s = self.settings
        parts = [
            f"# Record service benchmark: {self.kind}",
            f"`bench/records.py --database {self.kind} --rows {s.rows}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
            f"Page figures: p50/p95 over up to {s.repeats} runs (fewer where a case ran past {s.case_budget_s:.0f} s); "
            f"page {s.deep_page} by keyset cursor and by offset; aim: p95 under {PAGE_AIM_MS:g} ms. "
            '"same" says whether service and Core returned the same ids and total.',
            f"{self.setting}. Load average (1 min) at start, after pages, at end: "
            + ", ".join(f"{value:.1f}" for value in self.load_averages)
            + " (other work on the 2 cores makes the figures noisier).",
        ]
        parts += [f"## {title}\n\n{markdown_table(h, rows)}" for title, h, rows in self.tables()]
        for result in self.writes or []:
            for side, writes in (("service", result.service), ("Core", result.core)):
                if writes.first_error:
                    first = writes.first_error.split("\n")[0]
                    parts.append(
                        f"{result.label}, {side}: first of {writes.errors} errors: `{first}`"
                    )
        plans = [t for t in [*(self.pages or []), *(self.aggregates or [])] if t.plans]
        if plans:
            parts.append("## Plans of the cases that miss the aim (and of the admin's sums)")
            parts += [f"### {t.label}\n\n```\n{t.plans}\n```" for t in plans]
        for title, text in (self.profiles or {}).items():
            parts.append(f"## Profile: {title}\n\n```\n{text}\n```")
        return "\n\n".join(parts) + "\n"


WRITE_HEADERS = [
    "what",
    "service /s",
    "Core /s",
    "service/Core time",
    "service p50/p95 ms",
    "Core p50/p95 ms",
    "errors service/Core",
    "aim",
]
TIMED_HEADERS = [
    "case",
    "service p50",
    "service p95",
    "Core p50",
    "Core p95",
    "service/Core p50",
    "aim",
    "same",
]


def write_row(result: WriteResult) -> list[str]:
    def latency(writes: Writes) -> str:
        return f"{ms(writes.latency.p50)} / {ms(writes.latency.p95)}" if writes.latency else "-"

    return [
        result.label,
        f"{result.service.rate:,.0f}",
        f"{result.core.rate:,.0f}",
        f"{result.ratio:.2f}",
        latency(result.service),
        latency(result.core),
        f"{result.service.errors} / {result.core.errors}",
        "yes" if result.meets_aim else "NO",
    ]


def timed_row(timed: Timed) -> list[str]:
    aim = {None: "-", True: "yes", False: "NO"}[timed.meets_aim]
    return [
        timed.label,
        ms(timed.service.p50),
        ms(timed.service.p95),
        ms(timed.core.p50),
        ms(timed.core.p95),
        f"{timed.service.p50 / timed.core.p50:.2f}",
        aim,
        "yes" if timed.same else "DIFFERENT",
    ]


# the run ------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def run(kind: str, settings: Settings) -> Report:
    report = Report(kind, settings)
    target = fresh_target(kind, settings.rows, keep=settings.keep)
    engine = connect(target.url)
    if loaded_rows(engine) != settings.rows:
        if settings.keep:
            engine.dispose()
            target = fresh_target(kind, settings.rows, keep=False)
            engine = connect(target.url)
        say(f"{kind}: loading {settings.rows:,} opportunities")
        report.load = install_and_load(target, engine, settings)
        say(f"{kind}: loaded in {report.load.total_s:.0f} s")
    else:
        say(f"{kind}: reusing the loaded database")
    report.size = database_size(target, engine)
    report.setting = describe_setting(engine)
    report.load_averages.append(os.getloadavg()[0])
    team = read_team(engine)
    actors = {
        "admin": actor_of(engine, team.admin),
        "rep (own)": actor_of(engine, team.rep),
        "manager (department)": actor_of(engine, team.manager),
    }
    service = RecordService(engine, AppSchema(load_app(APP_DIR)))
    customers = rep_customers(engine, service, team.rep)

    say(f"{kind}: pages")
    pages = Pages(engine, service, settings)
    report.pages = [pages.floor(), *pages.measure(pages.cases(team, actors))]
    report.load_averages.append(os.getloadavg()[0])
    say(f"{kind}: sums")
    report.aggregates = measure_aggregates(engine, service, actors, pages, settings)
    say(f"{kind}: writes, one process")
    writer = Writer(target.url, actors["rep (own)"], customers, SEED)
    report.writes = [single_writer(writer, settings.creates)]
    say(f"{kind}: writes, {settings.writers} processes")
    report.writes.append(concurrent_writers(target.url, actors["rep (own)"], customers, settings))
    if settings.profile:
        say(f"{kind}: profiles")
        case = pages.cases(team, actors)[3]  # stage = negotiation, as the admin
        report.profiles = {
            "200 creates through the service": profile(writer.through_service, 200),
            f"200 first pages ({case.label}) through the service": profile(
                lambda: service.find(case.actor, FORM, Query(filter=case.filter)), 200
            ),
        }
    report.load_averages.append(os.getloadavg()[0])
    writer.engine.dispose()
    engine.dispose()
    return report


def describe_setting(engine: Engine) -> str:
    """The code (commit, and whether edited since), database, Python, CPUs measured on."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            version = "SQLite " + connection.exec_driver_sql("SELECT sqlite_version()").scalar_one()
        else:
            found = connection.exec_driver_sql("SHOW server_version").scalar_one()
            version = f"PostgreSQL {found}"
    code = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return f"Formflow {code}, {version}, Python {platform.python_version()}, {os.cpu_count()} CPUs"


def rep_customers(engine: Engine, service: RecordService, rep: int) -> list[int]:
    """The customers the rep owns: the only ones their own-scope link check lets them pick."""
    t = service.schema.table("customer")
    with engine.connect() as connection:
        found = connection.execute(
            select(t.c.id).where(t.c.owner == rep, t.c[DELETED_AT].is_(None)).limit(2000)
        )
        return list(found.scalars())


def settings_from(args: argparse.Namespace) -> Settings:
    rows = args.rows if args.rows is not None else (50_000 if args.quick else 1_000_000)
    return Settings(
        rows=rows,
        customers=min(20_000, max(1_000, rows // 50)),
        creates=200 if args.quick else 1000,
        writers=8,
        per_writer=25 if args.quick else 125,
        repeats=20 if args.quick else 100,
        aggregate_repeats=3 if args.quick else 5,
        deep_page=10 if args.quick else 200,
        case_budget_s=2.0 if args.quick else 8.0,
        keep=args.keep,
        profile=args.profile,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=None, help="opportunities (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, fewer runs: a smoke run")
    parser.add_argument(
        "--keep", action="store_true", help="reuse a database already loaded with as many rows"
    )
    parser.add_argument("--profile", action="store_true", help="also profile creates and pages")
    args = parser.parse_args()
    settings = settings_from(args)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        report = run(kind, settings)
        title = f"{kind}, {settings.rows:,} opportunities"
        say(f"written {publish(f'records-{kind}', title, report.text(), report.markdown())}")


if __name__ == "__main__":
    main()
