"""The compiled model of an approval workflow: a graph of nodes over one form's records.

Everything is frozen: a running instance is pinned to the definition version it started
on, and the engine hands the same compiled objects to every request, so nothing may change
them after compiling.

A flow starts at its one :class:`StartNode` and follows ``next`` from node to node. An
:class:`ApprovalNode` waits for people; a :class:`ConditionNode` picks the first branch
whose condition holds (or its default); a :class:`ParallelNode` runs its lanes side by side
and goes on when all (or any) of them finish; a :class:`CcNode` tells people and goes on at
once; an :class:`EndNode` finishes the instance with an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from formflow.definitions.model import Label
    from formflow.expressions import Expression


class DecisionMode(StrEnum):
    """How the approvers of one node decide together."""

    SEQUENTIAL = "sequential"  # one after another, each must approve
    ALL = "all"  # countersign (会签): all must approve
    ANY = "any"  # or-sign (或签): the first decision settles it
    VOTE = "vote"  # passes once the share approving reaches ``ratio``


class NoApprover(StrEnum):
    """What a node does when its rules find nobody."""

    SKIP = "skip"
    ADMINS = "admins"
    REFUSE = "refuse"


class TimeoutAction(StrEnum):
    """What happens to a task still open when its node's time is up."""

    ESCALATE = "escalate"  # handed to the approver's manager
    APPROVE = "approve"  # approved by the engine
    REJECT = "reject"  # rejected by the engine, to the node's first reject_to


@dataclass(frozen=True)
class StepTimeout:
    """An approval node's clock, per task from when it is put before its approver:
    remind after ``remind_after``, then after ``act_after`` do ``action``."""

    remind_after: timedelta | None = None
    act_after: timedelta | None = None
    action: TimeoutAction | None = None


class Join(StrEnum):
    ALL = "all"
    ANY = "any"


class Withdraw(StrEnum):
    """Until when the submitter may withdraw a running instance."""

    UNTIL_FIRST_DECISION = "until_first_decision"
    UNTIL_END = "until_end"
    NEVER = "never"


class ApproverSource(StrEnum):
    """Where an approver rule finds people."""

    USERS = "users"  # named users (usernames)
    ROLE = "role"  # holders of a role, optionally within the submitter's department
    MANAGER = "manager"  # the submitter's department manager, and up ``levels``
    RECORD_MANAGER = "record_manager"  # the manager of the record's department
    FIELD = "field"  # the user(s) in a field of the record
    EXPRESSION = "expression"  # user ids (or one) computed from the record


SUBMITTER = "submitter"
"""The ``reject_to`` target that returns an instance to whoever submitted it."""


@dataclass(frozen=True)
class ApproverRule:
    source: ApproverSource
    users: tuple[str, ...] = ()
    role: str | None = None
    within_submitter_department: bool = False
    levels: int = 1
    field: str | None = None
    expression: Expression | None = None


@dataclass(frozen=True)
class FieldRules:
    """What the approvers of a node may do with the record's fields while it waits there;
    every other field is locked (read-only) while an instance runs."""

    edit: frozenset[str] = frozenset()
    read: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ActionCall:
    """One action run on entering or leaving a node, or at an end: ``set`` (fields to
    values) or an action registered by a plugin or the automations engine."""

    name: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Node:
    key: str
    label: Label
    on_enter: tuple[ActionCall, ...] = ()
    on_leave: tuple[ActionCall, ...] = ()


@dataclass(frozen=True)
class StartNode(Node):
    """Who may submit, from which states of the record, and when."""

    next: str = ""
    roles: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    condition: Expression | None = None
    withdraw: Withdraw = Withdraw.UNTIL_FIRST_DECISION


@dataclass(frozen=True)
class ApprovalNode(Node):
    next: str = ""
    approvers: tuple[ApproverRule, ...] = ()
    mode: DecisionMode = DecisionMode.SEQUENTIAL
    ratio: Decimal | None = None
    fields: FieldRules = FieldRules()
    no_approver: NoApprover = NoApprover.REFUSE
    skip_approved: bool = False
    skip_submitter: bool = False
    allow_self: bool = False
    reject_to: tuple[str, ...] = (SUBMITTER,)
    state: str | None = None
    timeout: StepTimeout | None = None


@dataclass(frozen=True)
class Branch:
    next: str
    condition: Expression | None = None  # None: the default branch


@dataclass(frozen=True)
class ConditionNode(Node):
    branches: tuple[Branch, ...] = ()


@dataclass(frozen=True)
class ParallelNode(Node):
    """Lanes run side by side; each lane is approval or carbon-copy nodes in order."""

    next: str = ""
    join: Join = Join.ALL
    lanes: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class CcNode(Node):
    next: str = ""
    recipients: tuple[ApproverRule, ...] = ()


@dataclass(frozen=True)
class EndNode(Node):
    outcome: str = "approved"
    state: str | None = None


@dataclass(frozen=True)
class StateNames:
    """The values of the state field the engine writes besides the nodes' own."""

    running: str | None = None
    returned: str | None = None  # while an instance waits for the submitter to resubmit
    withdrawn: str | None = None  # default: the state the record had when submitted


@dataclass(frozen=True)
class Workflow:
    """An approval flow over one form; run by :mod:`formflow.workflows.service`."""

    key: str
    label: Label
    form: str
    state_field: str | None = None
    states: StateNames = StateNames()
    nodes: tuple[Node, ...] = ()

    def node(self, key: str) -> Node:
        for node in self.nodes:
            if node.key == key:
                return node
        raise KeyError(key)

    @property
    def start(self) -> StartNode:
        for node in self.nodes:
            if isinstance(node, StartNode):
                return node
        raise KeyError("start")

    def lane_of(self, key: str) -> tuple[ParallelNode, int] | None:
        """The parallel node and lane index that ``key`` runs in, if it is in a lane."""
        for node in self.nodes:
            if isinstance(node, ParallelNode):
                for index, lane in enumerate(node.lanes):
                    if key in lane:
                        return node, index
        return None
