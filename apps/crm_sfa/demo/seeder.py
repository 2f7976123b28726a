"""Creating the demo records through the record service, each as the person who enters it."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any

from formflow import accounts
from formflow.config import Settings
from formflow.lifecycle.demos import DemoError
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import Record, RecordService

from .fake import Company, company, mobile, person
from .words import (
    BANKS,
    COMPETITORS,
    CONCERNS,
    DIRECTOR,
    FEATURES,
    FINANCE,
    FOLLOW_UPS,
    LEAD_REQUIREMENTS,
    NEXT_STEPS,
    PAINS,
    PLACES,
    POOL_REASONS,
    PRODUCTS,
    PROJECTS,
    SOLD,
    SOURCES,
    STAGES,
    TEAMS,
    TICKETS,
    TITLES,
    Place,
)

PRODUCT_FIELDS = ("code", "name", "category", "specification", "unit", "list_price", "active", "description")  # fmt: skip
COMPETITOR_FIELDS = ("name", "website", "threat_level", "main_products", "strengths", "weaknesses", "pricing")  # fmt: skip
Account = tuple[Record, list[Record], Company]
STAGE_PROBABILITIES = {stage: probability for stage, probability, _count in STAGES}
OPEN_STAGES = ("initial_contact", "needs_analysis", "proposal", "negotiation")
"""A customer as the seeder keeps it: the record, its contacts, the company behind it."""


@dataclass(frozen=True)
class Member:
    user: accounts.User
    actor: Actor
    role: str
    team: str


class Seeder:
    """Creates the demo records, each as the person who would enter it."""

    def __init__(
        self,
        service: RecordService,
        staff: dict[str, Member],
        rng: random.Random,
        today: date,
        settings: Settings,
    ) -> None:
        self.service = service
        self.staff = staff
        self.rng = rng
        self.today = today
        self.zone = settings.timezone
        self.counts: dict[str, int] = {}
        self.reps = {
            team: [m for m in staff.values() if m.role == "sales_rep" and m.team == team]
            for team in TEAMS
        }
        self.managers = {m.team: m for m in staff.values() if m.role == "sales_manager"}
        self.products: dict[str, Record] = {}
        self.competitors: list[Record] = []
        self.taken: set[tuple[str, str]] = set()

    def create(self, member: Member | Actor, form_key: str, values: dict[str, Any]) -> Record:
        """Enter a record as ``member`` would have, with what flows and roll-ups would since
        have set on it (a contract's approved status, say): the seeder is granted those."""
        actor = member.actor if isinstance(member, Member) else member
        record = self.service.create(actor, form_key, values, grant=set(values))
        self.counts[form_key] = self.counts.get(form_key, 0) + 1
        return record

    def run(self) -> None:
        director = self.staff[DIRECTOR]
        for product in PRODUCTS:
            values: dict[str, Any] = dict(zip(PRODUCT_FIELDS, product, strict=True))
            values["floor_price"] = str(Decimal(values["list_price"]) * Decimal("0.85"))
            self.products[product[0]] = self.create(director, "product", values)
        for competitor in COMPETITORS:
            values = dict(zip(COMPETITOR_FIELDS, competitor, strict=True))
            self.competitors.append(self.create(director, "competitor", values))
        accounts_by_rep = self.customers()
        self.leads()
        won = self.opportunities(accounts_by_rep)
        contracts = [self.contract(*deal) for deal in won]
        self.tickets([c for c in contracts if c["status"] in ("signed", "executing", "completed")])
        self.targets()
        self.transfers(accounts_by_rep)

    # dates --------------------------------------------------------------------------

    def day(self, back: int, ahead: int = 0) -> date:
        return self.today + timedelta(days=self.rng.randint(-back, ahead))

    def moment(self, day: date) -> datetime:
        hour, minute = self.rng.randint(9, 18), self.rng.choice((0, 10, 15, 20, 30, 40, 45, 50))
        return datetime.combine(day, clock(hour, minute), self.zone)

    # customers, contacts and follow-ups -------------------------------------------

    def customers(self) -> dict[str, list[Account]]:
        """150 customers: about 22 for each rep, mostly in their team's region, 20 in the pool."""
        owned: dict[str, list[Account]] = {}
        for team, region in TEAMS.items():
            home = [p for p in PLACES if p.region == region]
            for rep in self.reps[team]:
                owned[rep.user.username] = []
                for index in range(22):
                    places = home if index % 5 else PLACES
                    owned[rep.user.username].append(self.customer(rep, places))
        for index in range(20):
            team = list(TEAMS)[index % 2]
            self.customer(self.reps[team][index % 3], PLACES, pooled=True)
        return owned

    def customer(self, member: Member, places: Sequence[Place], *, pooled: bool = False) -> Account:
        """A customer with contacts and follow-ups; ``pooled`` ones then go to the pool."""
        rng = self.rng
        found = company(rng, self.taken, places)
        count = rng.choice((0, 1, 1, 2, 2, 3))
        back = (35, 120) if pooled else (0, 75)
        follow_days = sorted(self.today - timedelta(days=rng.randint(*back)) for _ in range(count))
        values: dict[str, Any] = {
            "name": found.name,
            "credit_code": found.credit_code,
            "short_name": found.short_name,
            "source": rng.choice(SOURCES),
            "level": rng.choices("ABCD", weights=(15, 35, 35, 15))[0],
            "industry": found.industry,
            "region": found.place.region,
            "address": found.address,
            "phone": found.phone,
            "email": f"info@{found.domain}",
            "website": f"https://www.{found.domain}",
            "status": "potential" if follow_days else rng.choice(("potential", "churned")),
            "owner": member.user.id,
        }
        record = self.create(member, "customer", values)
        contacts = [
            self.contact(member, record, found, primary=index == 0)
            for index in range(rng.choice((1, 1, 2, 2)))
        ]
        for day in follow_days:
            self.follow_up(member, record, rng.choice(contacts), day)
        if pooled:
            self.to_pool(member, record)
        return record, contacts, found

    def to_pool(self, member: Member, customer: Record) -> None:
        """Return a customer to the public pool, as its owner would (reloading it first: its
        follow-ups' roll-ups have changed it since)."""
        customer = self.service.get(member.actor, "customer", customer["id"])
        self.service.update(
            member.actor,
            "customer",
            customer["id"],
            {
                "owner": None,
                "in_pool": True,
                "pool_reason": self.rng.choice(POOL_REASONS),
                "pool_entered_at": self.moment(
                    self.today - timedelta(days=self.rng.randint(1, 30))
                ),
                "previous_owner": member.user.id,
            },
            expected_version=customer["version"],
            grant={"owner", "in_pool", "pool_reason", "pool_entered_at", "previous_owner"},
        )

    def contact(self, member: Member, customer: Record, found: Company, *, primary: bool) -> Record:
        rng = self.rng
        someone = person(rng)
        title, department, role = rng.choice(TITLES)
        return self.create(
            member,
            "contact",
            {
                "customer": customer["id"],
                "name": someone.name,
                "gender": someone.gender,
                "department_name": department,
                "title": title,
                "decision_role": role,
                "phone": mobile(rng),
                "office_phone": found.phone if rng.random() < 0.4 else None,
                "email": f"{someone.pinyin}@{found.domain}",
                "wechat": f"{someone.pinyin}{rng.randint(10, 9999)}"
                if rng.random() < 0.6
                else None,
                "is_primary": primary,
                "birthday": date(rng.randint(1965, 1995), rng.randint(1, 12), rng.randint(1, 28))
                if rng.random() < 0.3
                else None,
                "owner": customer["owner"],
            },
        )

    def follow_up(
        self,
        member: Member,
        customer: Record,
        contact: Record,
        day: date,
        *,
        opportunity: Record | None = None,
        stage: str | None = None,
    ) -> Record:
        rng = self.rng
        method = rng.choice(tuple(FOLLOW_UPS))
        content = rng.choice(FOLLOW_UPS[method]).format(
            contact=contact["name"],
            product=rng.choice(SOLD)[1],
            pain=rng.choice(PAINS),
            feature=rng.choice(FEATURES),
            concern=rng.choice(CONCERNS),
            next=rng.choice(NEXT_STEPS),
        )
        upcoming = day + timedelta(days=rng.randint(3, 14))
        return self.create(
            member,
            "follow_up",
            {
                "customer": customer["id"],
                "opportunity": opportunity["id"] if opportunity else None,
                "contact": contact["id"],
                "method": method,
                "followed_at": self.moment(day),
                "content": content,
                "stage": stage,
                "next_follow_up": upcoming if upcoming >= self.today else None,
                "next_plan": rng.choice(NEXT_STEPS) if upcoming >= self.today else None,
                "owner": member.user.id,
            },
        )

    # leads --------------------------------------------------------------------------

    def leads(self) -> None:
        rng = self.rng
        reps = [rep for team in TEAMS for rep in self.reps[team]]
        statuses = ["new"] * 12 + ["following"] * 12 + ["qualified"] * 8 + ["invalid"] * 8
        for index, status in enumerate(statuses):
            rep = reps[index % len(reps)]
            region = TEAMS[rep.team]
            found = company(rng, self.taken, [p for p in PLACES if p.region == region])
            someone = person(rng)
            title = rng.choice(TITLES)[0]
            self.create(
                rep,
                "lead",
                {
                    "company": found.name,
                    "contact_name": someone.name,
                    "contact_title": title,
                    "phone": mobile(rng),
                    "email": f"{someone.pinyin}@{found.domain}" if rng.random() < 0.6 else None,
                    "source": rng.choice(
                        (
                            "website",
                            "exhibition",
                            "cold_call",
                            "referral",
                            "advertising",
                            "social_media",
                            "partner",
                        )
                    ),
                    "industry": found.industry,
                    "region": region,
                    "status": status,
                    "score": rng.randint(10, 95),
                    "owner": rep.user.id,
                    "next_follow_up": self.day(0, 14) if status in ("new", "following") else None,
                    "requirement": rng.choice(LEAD_REQUIREMENTS).format(
                        n=rng.choice((8, 15, 30, 50))
                    ),
                    "invalid_reason": rng.choice(
                        ("电话多次无人接听", "同行打探价格", "需求与我司产品不符")
                    )
                    if status == "invalid"
                    else None,
                },
            )

    # opportunities, quotes, contracts and money -----------------------------------

    def opportunities(
        self, owned: dict[str, list[Account]]
    ) -> list[tuple[Member, Record, Record, Record, Record, Company]]:
        """About 70 opportunities across the stages; the won ones with their quote."""
        rng = self.rng
        reps = [rep for team in TEAMS for rep in self.reps[team]]
        won = []
        index = 0
        for stage, _probability, count in STAGES:
            for _ in range(count):
                rep = reps[index % len(reps)]
                index += 1
                customer, contacts, found = owned[rep.user.username][rng.randrange(22)]
                deal = self.opportunity(rep, customer, contacts[0], found, stage)
                if deal is not None:
                    won.append((rep, customer, contacts[0], *deal, found))
        return won

    def opportunity(
        self,
        rep: Member,
        customer: Record,
        contact: Record,
        found: Company,
        stage: str,
    ) -> tuple[Record, Record] | None:
        """An opportunity that went through the stages before ``stage`` as a rep moves one
        on, each move on its day, so the stage history and its dashboard have real stays;
        moving to won drafts its contract as the app's automation does."""
        rng = self.rng
        project, lines = rng.choice(PROJECTS)
        items = self.quote_items(lines)
        total = sum((line_total(item) for item in items), Decimal(0))
        closed = stage in ("won", "lost")
        since = self.day(60 if closed else 30)
        path = self.stage_path(stage)
        entered = [since]
        for _ in path[1:]:
            entered.insert(0, entered[0] - timedelta(days=rng.randint(3, 18)))
        values: dict[str, Any] = {
            "name": f"{found.short_name}{project}",
            "customer": customer["id"],
            "contact": contact["id"],
            "source": rng.choice(
                ("website", "exhibition", "referral", "existing_customer", "partner", "cold_call")
            ),
            "rating": rng.choice(("hot", "warm", "cold")),
            "stage": path[0],
            "amount": round(total, -3) if stage in ("initial_contact", "needs_analysis") else total,
            "probability": STAGE_PROBABILITIES[path[0]],
            "expected_close_date": since
            if closed
            else self.today + timedelta(days=rng.randint(10, 150)),
            "owner": rep.user.id,
            "competitor": rng.choice(self.competitors)["id"] if rng.random() < 0.5 else None,
            "stage_changed_at": self.moment(entered[0]),
            "description": f"客户希望解决{rng.choice(PAINS)}的问题，重点关注{rng.choice(FEATURES)}。",
        }
        closing: dict[str, Any] = {"actual_close_date": since} if closed else {}
        if stage == "lost":
            closing.update(
                lost_reason=rng.choice(
                    ("price", "competitor", "no_budget", "product_fit", "no_decision")
                ),
                lost_note="客户最终选择了报价更低的方案。",
            )
        with self.on(entered[0]):
            opportunity = self.create(rep, "opportunity", values)
        for moved_to, day in zip(path[1:], entered[1:], strict=True):
            with self.on(day):
                opportunity = self.service.get(rep.actor, "opportunity", opportunity["id"])
                opportunity = self.service.update(
                    rep.actor,
                    "opportunity",
                    opportunity["id"],
                    {"stage": moved_to, **(closing if moved_to == stage else {})},
                    expected_version=opportunity["version"],
                    grant=set(closing),
                )
        opportunity = self.service.get(rep.actor, "opportunity", opportunity["id"])
        if not closed and (self.today - since).days >= 14:
            opportunity = self.service.update(
                rep.actor,
                "opportunity",
                opportunity["id"],
                {"stalled": True},
                expected_version=opportunity["version"],
                grant={"stalled"},
            )
        days = sorted(self.day(45) for _ in range(rng.randint(1, 2)))
        for day in days:
            self.follow_up(rep, customer, contact, day, opportunity=opportunity, stage=stage)
        self.advance(rep, customer["id"], "deal" if stage == "won" else "intent")
        if stage in ("initial_contact", "needs_analysis"):
            return None
        status = {
            "proposal": rng.choice(("draft", "pending", "approved")),
            "negotiation": "sent",
            "won": "accepted",
            "lost": "declined",
        }[stage]
        quote_day = since - timedelta(days=rng.randint(5, 20)) if closed else self.day(20)
        quote = self.create(
            rep,
            "quote",
            {
                "opportunity": opportunity["id"],
                "customer": customer["id"],
                "contact": contact["id"],
                "quote_date": quote_day,
                "valid_until": quote_day + timedelta(days=30),
                "items": items,
                "status": status,
                "owner": rep.user.id,
                "terms": "报价含税（增值税 13%/6%），有效期 30 天；实施人天按实际发生结算。",
            },
        )
        return (opportunity, quote) if stage == "won" else None

    def stage_path(self, stage: str) -> list[str]:
        """The stages an opportunity went through to reach ``stage``: each open stage before
        it; a won deal through all of them, a lost one dropping out after one to four."""
        if stage == "won":
            return [*OPEN_STAGES, stage]
        if stage == "lost":
            return [*OPEN_STAGES[: self.rng.randint(1, len(OPEN_STAGES))], stage]
        return list(OPEN_STAGES[: OPEN_STAGES.index(stage) + 1])

    @contextmanager
    def on(self, day: date) -> Iterator[None]:
        """Write as on ``day`` (at a working hour): the records' times, their stage stays
        and what the automations do in answer all carry that day."""
        moment = min(self.moment(day), datetime.now(self.zone))
        real = self.service.clock
        self.service.clock = lambda: moment.astimezone(UTC)
        try:
            yield
        finally:
            self.service.clock = real

    def quote_items(self, lines: Sequence[tuple[str, tuple[int, int]]]) -> list[dict[str, Any]]:
        rng = self.rng
        items = []
        for code, (low, high) in lines:
            product = self.products[code]
            items.append(
                {
                    "product": product["id"],
                    "description": product["specification"],
                    "qty": Decimal(rng.randint(low, high)),
                    "unit_price": product["list_price"],
                    "discount": Decimal(rng.choice((0, 0, 0, 5, 8, 10, 12, 15, 20, 25))),
                }
            )
        return items

    def contract(
        self,
        rep: Member,
        customer: Record,
        contact: Record,
        opportunity: Record,
        quote: Record,
        found: Company,
    ) -> Record:
        rng = self.rng
        status = rng.choice(
            (
                "completed",
                "executing",
                "executing",
                "signed",
                "signed",
                "approved",
                "pending",
                "draft",
            )
        )
        amount = Decimal(quote["total"])
        signed = opportunity["actual_close_date"] + timedelta(days=rng.randint(1, 7))
        signed = min(signed, self.today)
        if status == "completed":
            signed = self.today - timedelta(days=rng.randint(200, 330))
        elif status == "approved":  # approved, to be signed in the coming days
            signed = self.today + timedelta(days=rng.randint(3, 10))
        shares = rng.choice(((30, 60, 10), (50, 50), (100,)))
        plan = instalments(amount, shares)
        dues = [signed + timedelta(days=offset) for offset in (7, 90, 180)[: len(plan)]]
        approved = status in ("approved", "signed", "executing", "completed")
        received = [
            (share * self.received(status, due)).quantize(Decimal("0.01"))
            if approved
            else Decimal(0)
            for share, due in zip(plan, dues, strict=True)
        ]
        invoiced = [
            share if got and rng.random() < 0.7 else Decimal(0)
            for share, got in zip(plan, received, strict=True)
        ]
        values: dict[str, Any] = {
            "name": f"{opportunity['name']}合同",
            "customer": customer["id"],
            "opportunity": opportunity["id"],
            "quote": quote["id"],
            "customer_signatory": contact["id"],
            "amount": amount,
            "signed_date": signed if status in ("signed", "executing", "completed") else None,
            "start_date": signed + timedelta(days=3),
            "end_date": signed + timedelta(days=368),
            "owner": rep.user.id,
            "status": status,
            "payment_terms": "、".join(
                f"第 {n} 期 {share}%" for n, share in enumerate(shares, start=1)
            )
            + "，收到发票后 15 个工作日内付款。",
        }
        drafted = self.drafted_contract(rep, opportunity)
        contract = self.service.update(
            rep.actor,
            "contract",
            drafted["id"],
            values,
            expected_version=drafted["version"],
            grant=set(values),
        )
        if not approved:
            return contract
        for number, (share, due, got, billed) in enumerate(
            zip(plan, dues, received, invoiced, strict=True), start=1
        ):
            self.instalment(rep, contract, customer, found, number, share, due, got, billed)
        return contract

    def drafted_contract(self, rep: Member, opportunity: Record) -> Record:
        """The contract the app's automation drafted when the opportunity was won."""
        found = self.service.find(
            rep.actor,
            "contract",
            Query(filter={"field": "opportunity", "op": "eq", "value": opportunity["id"]}),
        ).rows
        if len(found) != 1:
            raise DemoError(f"winning {opportunity['name']} drafted {len(found)} contracts, not 1")
        self.counts["contract"] = self.counts.get("contract", 0) + 1
        return found[0]

    def received(self, status: str, due: date) -> Decimal:
        """How much of an instalment came in (1 all, 0 nothing, 0.5 half)."""
        if status == "completed":
            return Decimal(1)
        if due > self.today:
            return Decimal(0)
        return Decimal(self.rng.choices((1, 0.5, 0), weights=(7, 1, 2))[0])

    def instalment(
        self,
        rep: Member,
        contract: Record,
        customer: Record,
        found: Company,
        number: int,
        amount: Decimal,
        due: date,
        received: Decimal,
        invoiced: Decimal,
    ) -> None:
        rng = self.rng
        if received >= amount:
            status = "received"
        elif received:
            status = "partial"
        else:
            status = "overdue" if due < self.today else "pending"
        plan = self.create(
            rep,
            "payment_plan",
            {
                "contract": contract["id"],
                "customer": customer["id"],
                "instalment_no": number,
                "due_date": due,
                "amount": amount,
                "status": status,
                "owner": rep.user.id,
            },
        )
        invoice = None
        if invoiced:
            issued = min(due, self.today) - timedelta(days=rng.randint(0, 5))
            digital = rng.random() < 0.5
            invoice = self.create(
                rep,
                "invoice",
                {
                    "contract": contract["id"],
                    "customer": customer["id"],
                    "amount": invoiced,
                    "invoice_type": "digital_special" if digital else "vat_special",
                    "invoice_title": customer["name"],
                    "tax_number": found.credit_code,
                    "bank_name": f"{rng.choice(BANKS)}{found.place.short}{found.district.removesuffix('区').removesuffix('新')}支行",
                    "bank_account": "".join(rng.choice("0123456789") for _ in range(19)),
                    "registered_address": found.address,
                    "registered_phone": found.phone or mobile(rng),
                    "status": "issued",
                    "invoice_no": "".join(
                        rng.choice("0123456789") for _ in range(20 if digital else 8)
                    ),
                    "issued_date": issued,
                    "owner": rep.user.id,
                },
            )
        if received:
            self.create(
                self.staff[FINANCE],
                "payment",
                {
                    "contract": contract["id"],
                    "customer": customer["id"],
                    "invoice": invoice["id"] if invoice else None,
                    "payment_plan": plan["id"],
                    "received_date": min(due + timedelta(days=rng.randint(-3, 12)), self.today),
                    "amount": received,
                    "method": rng.choices(
                        ("bank_transfer", "acceptance_bill", "wechat_pay"), weights=(8, 2, 1)
                    )[0],
                    "status": "confirmed",
                    "owner": rep.user.id,
                },
            )

    # tickets, targets and transfers -----------------------------------------------

    def tickets(self, contracts: list[Record]) -> None:
        rng = self.rng
        owners = {m.user.id: m for m in self.staff.values()}
        for index, (subject, kind, priority, description, resolution) in enumerate(TICKETS):
            contract = contracts[index % len(contracts)]
            status = (
                ("resolved", "closed")[index % 2]
                if resolution
                else rng.choice(("new", "in_progress"))
            )
            done = status in ("resolved", "closed")
            self.create(
                owners[contract["owner"]],
                "service_ticket",
                {
                    "subject": subject,
                    "customer": contract["customer"],
                    "contact": contract["customer_signatory"],
                    "contract": contract["id"],
                    "ticket_type": kind,
                    "priority": priority,
                    "status": status,
                    "description": description,
                    "owner": contract["owner"],
                    "resolution": resolution or None,
                    "resolved_at": self.moment(self.day(20)) if done else None,
                    "satisfaction": rng.randint(3, 5) if done else None,
                },
            )

    def targets(self) -> None:
        """Monthly targets for each month of this quarter: each rep's, and each team's as
        the sum of its reps' (a rep's target rolling up into the team's)."""
        director = self.staff[DIRECTOR]
        quarter = (self.today.month - 1) // 3 + 1
        quarterly = {
            rep.user.id: Decimal(self.rng.randrange(900, 1800, 50) * 1000)
            for team in TEAMS
            for rep in self.reps[team]
        }
        for month in range(3 * quarter - 2, 3 * quarter + 1):
            start = date(self.today.year, month, 1)
            end = date(self.today.year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
            period = {
                "period_type": "month",
                "year": self.today.year,
                "month": month,
                "period_start": start,
                "period_end": end,
            }
            for team in TEAMS:
                department = self.managers[team].user.department_id
                revenue = [
                    (quarterly[rep.user.id] / 3).quantize(Decimal("1")) for rep in self.reps[team]
                ]
                team_target = self.create(
                    director,
                    "sales_target",
                    {
                        "name": f"{self.today.year}年{month}月 {team}",
                        "target_type": "team",
                        "department": department,
                        "revenue_target": sum(revenue, Decimal(0)),
                        "new_customer_target": 3 * len(revenue),
                        **period,
                    },
                )
                for rep, amount in zip(self.reps[team], revenue, strict=True):
                    self.create(
                        director,
                        "sales_target",
                        {
                            "name": f"{self.today.year}年{month}月 {rep.user.display_name}",
                            "target_type": "person",
                            "target_user": rep.user.id,
                            "parent_target": team_target["id"],
                            "revenue_target": amount,
                            "new_customer_target": 3,
                            **period,
                        },
                    )

    def transfers(self, owned: dict[str, list[Account]]) -> None:
        for team in TEAMS:
            giver, taker = self.reps[team][0], self.reps[team][1]
            customers = [customer for customer, _, _ in owned[giver.user.username][-2:]]
            self.create(
                giver,
                "transfer_request",
                {
                    "customers": [{"customer": customer["id"]} for customer in customers],
                    "from_owner": giver.user.id,
                    "to_owner": taker.user.id,
                    "reason": "客户业务调整，由负责该区域的同事就近跟进更方便。",
                    "status": "pending",
                },
            )

    def advance(self, rep: Member, customer_id: int, status: str) -> None:
        """Move a customer on to ``status`` (never back); its last follow-up time is a
        roll-up of its follow-ups."""
        current = self.service.get(rep.actor, "customer", customer_id)
        if CUSTOMER_PROGRESS.index(status) > CUSTOMER_PROGRESS.index(current["status"]):
            self.service.update(
                rep.actor,
                "customer",
                customer_id,
                {"status": status},
                expected_version=current["version"],
                grant={"status"},
            )


CUSTOMER_PROGRESS = ("churned", "potential", "intent", "deal")


def line_total(item: dict[str, Any]) -> Decimal:
    """A quote line as the quote form works it out, to two decimal places."""
    total = item["qty"] * item["unit_price"] * (1 - item["discount"] / 100)
    return Decimal(total).quantize(Decimal("0.01"))


def instalments(amount: Decimal, shares: Sequence[int]) -> list[Decimal]:
    """``amount`` split by percentage ``shares``; the last takes what rounding left."""
    parts = [(amount * share / 100).quantize(Decimal("0.01")) for share in shares[:-1]]
    return [*parts, amount - sum(parts, Decimal(0))]
