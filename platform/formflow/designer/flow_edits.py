"""Editing an approval flow as the workflow designer draws it: "+" between steps.

The flow's YAML links nodes by ``next``, by the ``branches`` of condition nodes and by the
``lanes`` of parallel nodes; the designer shows a tree. Each operation here is one click on
that tree, applied to the round-trip document (so comments and key order survive): a node,
a condition or a parallel node is added *at a link* (after a node, or at the head of one
branch of a condition), a step is added at the end of a lane (or in a new lane), and
removing a node joins its neighbours again. The rest of a node's vocabulary is set the same
way, one setting per operation: people, decision mode, field permissions, how a parallel
node joins, the clock of a step (remind, then escalate or decide), the actions run on
entering and leaving, where a rejection may send the request, who may submit (and when),
whom a step passes over, the state a step or an end shows, and an end's outcome. Nodes are named by key; a
condition's branches and a parallel node's lanes have no key in the format, so they are
named by their position, which the page shows.

Whether the result is a valid flow is not judged here: the compiler the server runs says so
(with ``FILE:LINE:COL``), and the draft cannot be published until it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from formflow.designer.documents import Document, DocumentError, to_plain, yaml_node
from formflow.errors import N_

NODES = "nodes"
ADDABLE = ("approval", "cc")
"""The kinds of step the "+" adds; conditions have their own operation."""
REMOVABLE = ("approval", "cc", "condition", "parallel")
DEFAULT_RULES: tuple[Mapping[str, str], ...] = ({"manager": "submitter"},)
"""A new step's people until the admin chooses: the submitter's manager."""
MODES = ("sequential", "all", "any", "vote")
PERMISSIONS = ("edit", "read", "hidden")
JOINS = ("all", "any")
TIMEOUT_ACTIONS = ("escalate", "approve", "reject")
MAX_HOURS = 24 * 366
"""A year: a clock longer than that is a slip of the keyboard (and ``inf`` no clock)."""
ACTION_SLOTS: Mapping[str, tuple[str, ...]] = {
    "start": ("on_enter", "on_leave"),
    "approval": ("on_enter", "on_leave"),
    "cc": ("on_enter",),
    "end": ("actions",),
}
"""Where each kind of node runs actions, as the format allows them."""
SUBMITTER = "submitter"
WITHDRAWALS = ("until_first_decision", "until_end", "never")
"""Until when the submitter may withdraw; the first is the format's default."""
NO_APPROVER = ("refuse", "skip", "admins")
"""What a step with nobody to ask does; the first is the format's default."""


@dataclass(frozen=True)
class Link:
    """Where a step goes in: after the node ``after``, or, when ``branch`` is given, at the
    head of that branch (0 first) of the condition node ``after``."""

    after: str
    branch: int | None = None

    def target(self, document: Document) -> str | None:
        return _next_of(document, self)

    def point(self, document: Document, key: str) -> None:
        if self.branch is None:
            document.set((NODES, self.after, "next"), key)
        else:
            document.set((NODES, self.after, "branches", self.branch, "next"), key)


@dataclass(frozen=True)
class AddStep:
    """Add an approval or cc step at ``link``; it goes on to where the link went."""

    link: Link
    key: str
    kind: str = "approval"
    label: Mapping[str, str] = field(default_factory=dict, hash=False)

    def apply(self, document: Document) -> None:
        _insert(document, self.link, _new_step(self.key, self.kind, self.label))


@dataclass(frozen=True)
class AddCondition:
    """Add a condition at ``link`` with one branch taken when ``when`` holds and a default;
    both go on to where the link went, so the flow means the same until a branch gets steps."""

    link: Link
    key: str
    when: str
    label: Mapping[str, str] = field(default_factory=dict, hash=False)

    def apply(self, document: Document) -> None:
        onward = self.link.target(document)
        if onward is None:
            raise DocumentError(f"nothing follows '{self.link.after}' to branch towards")
        node = {
            "key": self.key,
            "type": "condition",
            "label": dict(self.label) or {"zh": self.key, "en": self.key},
            "branches": [{"when": self.when, "next": onward}, {"default": True, "next": onward}],
        }
        _insert(document, self.link, node)


@dataclass(frozen=True)
class AddBranch:
    """Add a branch to a condition, tried just before its default, going where it goes."""

    node: str
    when: str

    def apply(self, document: Document) -> None:
        branches = document.items((NODES, self.node, "branches"))
        default = _default_index(branches)
        if default is None:
            raise DocumentError(f"'{self.node}' has no default branch")
        onward = branches[default].get("next")
        branches.insert(default, yaml_node({"when": self.when, "next": onward}))
        document.changed = True


@dataclass(frozen=True)
class SetBranchCondition:
    """Change the condition of one branch (not the default, which has none)."""

    node: str
    branch: int
    when: str

    def apply(self, document: Document) -> None:
        _not_default(
            document, self.node, self.branch, "the default branch is taken when no other holds"
        )
        document.set((NODES, self.node, "branches", self.branch, "when"), self.when)


@dataclass(frozen=True)
class RemoveBranch:
    """Remove a branch other than the default, with the steps only it reached."""

    node: str
    branch: int

    def apply(self, document: Document) -> None:
        branch = _not_default(
            document, self.node, self.branch, "a condition keeps its default branch"
        )
        before = _reachable(document, branch.get("next"))
        document.delete((NODES, self.node, "branches", self.branch))
        still = _reachable(document, _start(document))
        for key in before - still:
            node = document.get((NODES, key))
            if node.get("type") in REMOVABLE:
                _forget(document, key)
                document.delete((NODES, key))


@dataclass(frozen=True)
class RemoveStep:
    """Remove an approval, cc or condition node; what led to it leads to what followed it
    (a condition's default branch), and rejections no longer return to it."""

    key: str

    def apply(self, document: Document) -> None:
        node = document.get((NODES, self.key))
        kind = node.get("type")
        if kind not in REMOVABLE:
            raise DocumentError(f"a {kind} node cannot be removed from the flow")
        if kind == "condition":
            default = _default_index(node.get("branches") or [])
            onward = None if default is None else node["branches"][default].get("next")
        else:
            onward = node.get("next")
        if kind == "parallel":  # its lanes' steps run nowhere else
            for lane in list(node.get("lanes") or []):
                for member in list(lane):
                    if isinstance(member, str) and _lane_of(document, member) is not None:
                        RemoveStep(member).apply(document)
        _leave_lane(document, self.key)
        for other in document.items((NODES,)):
            if other.get("next") == self.key:
                _relink(document, (NODES, other["key"], "next"), onward)
            for index, branch in enumerate(other.get("branches") or []):
                if branch.get("next") == self.key:
                    _relink(document, (NODES, other["key"], "branches", index, "next"), onward)
        _forget(document, self.key)
        document.delete((NODES, self.key))


@dataclass(frozen=True)
class SetApprovers:
    """Set who an approval node asks (or a cc node tells): rules as the format writes them,
    ``{role: finance}``, ``{manager: submitter, levels: 2}``, ``{users: [wang]}``..."""

    node: str
    rules: Sequence[Mapping[str, Any]] = field(hash=False)

    def apply(self, document: Document) -> None:
        kind = document.get((NODES, self.node)).get("type")
        people = "recipients" if kind == "cc" else "approvers"
        rules = _flow_list([yaml_node(dict(rule)) for rule in self.rules])
        document.set((NODES, self.node, people), rules)


@dataclass(frozen=True)
class SetDecisionMode:
    """How the approvers decide together; ``ratio`` only with ``vote``."""

    node: str
    mode: str
    ratio: float | None = None

    def apply(self, document: Document) -> None:
        if self.mode not in MODES:
            raise DocumentError(f"a decision mode is one of {', '.join(MODES)}")
        document.set((NODES, self.node, "mode"), self.mode)
        if self.mode == "vote" and self.ratio is not None:
            document.set((NODES, self.node, "ratio"), self.ratio)
        else:
            document.delete((NODES, self.node, "ratio"))


@dataclass(frozen=True)
class SetFieldPermissions:
    """What the node's approvers may do with each field: ``edit``, ``read`` or ``hidden``
    (a field named nowhere is locked while the flow runs, as the format says)."""

    node: str
    permissions: Mapping[str, str] = field(hash=False)

    def apply(self, document: Document) -> None:
        table: dict[str, list[str]] = {name: [] for name in PERMISSIONS}
        for field_key, permission in self.permissions.items():
            if permission in table:
                table[permission].append(field_key)
        kept = {name: _flow_list(keys) for name, keys in table.items() if keys}
        if kept:
            document.set((NODES, self.node, "fields"), kept)
        else:
            document.delete((NODES, self.node, "fields"))


@dataclass(frozen=True)
class AddParallel:
    """Add a parallel node at ``link`` with two lanes of one new approval step each (a
    lane is never empty, and a single lane is no parallel); it goes on where the link went,
    so the flow still reaches what it reached."""

    link: Link
    key: str
    lanes: tuple[str, str]
    join: str = "all"
    label: Mapping[str, str] = field(default_factory=dict, hash=False)

    def apply(self, document: Document) -> None:
        if self.join not in JOINS:
            raise DocumentError(N_("a parallel node goes on when all lanes or any lane finished"))
        if self.link.target(document) is None:
            raise DocumentError(N_("nothing follows this step to run lanes before"))
        if len(set(self.lanes)) != len(self.lanes) or self.key in self.lanes:
            raise DocumentError(N_("each lane's first step needs a key of its own"))
        node: dict[str, Any] = {
            "key": self.key,
            "type": "parallel",
            "label": dict(self.label) or {"zh": self.key, "en": self.key},
            "join": self.join,
            "lanes": _flow_list([_flow_list([key]) for key in self.lanes]),
        }
        _insert(document, self.link, node)
        after = self.key
        for key in self.lanes:
            document.insert((NODES,), _new_step(key, "approval", {}), after)
            after = key


@dataclass(frozen=True)
class AddLaneStep:
    """Add an approval or cc step at the end of lane ``lane`` (0 first) of the parallel
    node ``node``; a ``lane`` one past the last starts a new lane with it."""

    node: str
    lane: int
    key: str
    kind: str = "approval"
    label: Mapping[str, str] = field(default_factory=dict, hash=False)

    def apply(self, document: Document) -> None:
        _node_of_kind(
            document,
            self.node,
            ("parallel",),
            N_("this step is not a parallel node: it has no lanes"),
        )
        lanes = document.items((NODES, self.node, "lanes"))
        if not 0 <= self.lane <= len(lanes):
            raise DocumentError(N_("this parallel node has no such lane"))
        members = [str(key) for lane in lanes for key in lane]
        after = members[-1] if members else self.node
        if self.lane < len(lanes) and lanes[self.lane]:
            after = str(lanes[self.lane][-1])
        document.insert((NODES,), _new_step(self.key, self.kind, self.label), after)
        if self.lane == len(lanes):
            lanes.append(_flow_list([self.key]))
        else:
            lanes[self.lane].append(self.key)
        document.changed = True


@dataclass(frozen=True)
class SetJoin:
    """When a parallel node goes on: once ``all`` its lanes finished, or ``any`` one."""

    node: str
    join: str

    def apply(self, document: Document) -> None:
        if self.join not in JOINS:
            raise DocumentError(N_("a parallel node goes on when all lanes or any lane finished"))
        _node_of_kind(
            document,
            self.node,
            ("parallel",),
            N_("this step is not a parallel node: it has no lanes"),
        )
        document.set((NODES, self.node, "join"), self.join)


@dataclass(frozen=True)
class SetTimeout:
    """The clock of an approval step's tasks: remind after some hours, then, after more,
    ``escalate``, ``approve`` or ``reject``. Each part given is written, each part left
    out is removed, and nothing given removes the clock. That reminding comes before
    acting is the compiler's to say, beside the node."""

    node: str
    remind_after_hours: float | None = None
    after_hours: float | None = None
    action: str | None = None

    def apply(self, document: Document) -> None:
        _node_of_kind(document, self.node, ("approval",), N_("only an approval step has a clock"))
        if self.action is not None and self.action not in TIMEOUT_ACTIONS:
            raise DocumentError(N_("when time is up: escalate, approve or reject"))
        if (self.after_hours is None) != (self.action is None):
            raise DocumentError(N_("acting after some hours needs both the hours and the action"))
        for hours in (self.remind_after_hours, self.after_hours):
            if hours is not None and not 0 < hours <= MAX_HOURS:
                raise DocumentError(N_("hours on the clock are more than 0 and at most a year"))
        parts = {
            "remind_after_hours": _number(self.remind_after_hours),
            "after_hours": _number(self.after_hours),
            "action": self.action,
        }
        path = (NODES, self.node, "timeout")
        if all(value is None for value in parts.values()):
            document.delete(path)
            return
        if not isinstance(document.get((NODES, self.node)).get("timeout"), Mapping):
            document.set(path, {name: value for name, value in parts.items() if value is not None})
            return
        for name, value in parts.items():
            if value is None:
                document.delete((*path, name))
            else:
                document.set((*path, name), value)


@dataclass(frozen=True)
class SetActions:
    """The actions a node runs at one of its moments (``on_enter``, ``on_leave``; an end
    node's ``actions``), as the format writes them: ``{set: {paid: true}}`` or
    ``{action: notify_erp, params: {...}}``. No actions removes the key."""

    node: str
    slot: str
    actions: Sequence[Mapping[str, Any]] = field(hash=False)

    def apply(self, document: Document) -> None:
        kind = str(document.get((NODES, self.node)).get("type"))
        slots = ACTION_SLOTS.get(kind, ())
        if self.slot not in slots:
            raise DocumentError(N_("this kind of node does not run actions at that moment"))
        path = (NODES, self.node, self.slot)
        if not self.actions:
            document.delete(path)
            return
        current = document.get((NODES, self.node)).get(self.slot)
        wanted = [dict(action) for action in self.actions]
        if to_plain(current) == wanted:
            return
        document.delete(path)  # a list set anew, not merged into the old one
        document.set(path, [yaml_node(action) for action in wanted])


@dataclass(frozen=True)
class SetRejectTo:
    """Where an approval step's approvers may send a rejection, the first the default:
    ``submitter``, an earlier approval step or an end node. None written means the
    format's default (``submitter``)."""

    node: str
    targets: Sequence[str] = field(hash=False)

    def apply(self, document: Document) -> None:
        _node_of_kind(document, self.node, ("approval",), N_("only an approval step is rejected"))
        wanted = list(dict.fromkeys(self.targets))
        path = (NODES, self.node, "reject_to")
        if not wanted:
            document.delete(path)
        elif to_plain(document.get((NODES, self.node)).get("reject_to")) != wanted:
            document.delete(path)
            document.set(path, _flow_list(wanted))


@dataclass(frozen=True)
class SetSubmitting:
    """Who may submit from the start node (``roles``), from which states (``sources``,
    written ``from``), when (``condition``) and until when they may withdraw. An empty part
    is removed (the format's default: anyone who may update the record, any state, always,
    until the first decision); a part already as asked keeps its line. Whether the roles,
    states and condition exist in the app is the compiler's to say, beside the node."""

    node: str
    roles: Sequence[str] = field(default=(), hash=False)
    sources: Sequence[str] = field(default=(), hash=False)
    condition: str = ""
    withdraw: str = WITHDRAWALS[0]

    def apply(self, document: Document) -> None:
        _node_of_kind(
            document, self.node, ("start",), N_("only the start node says who may submit")
        )
        if self.withdraw not in WITHDRAWALS:
            raise DocumentError(
                N_("withdrawing is allowed until the first decision, until the end, or never")
            )
        path = (NODES, self.node)
        _put_list(document, (*path, "roles"), self.roles)
        _put_list(document, (*path, "from"), self.sources)
        _put(document, (*path, "condition"), self.condition.strip() or None, None)
        _put(document, (*path, "withdraw"), self.withdraw, WITHDRAWALS[0])


@dataclass(frozen=True)
class SetPassingOver:
    """Who an approval step passes over, and what it does with nobody left: ``no_approver``
    (``refuse``, the default, ``skip`` or ``admins``), ``skip.already_approved``,
    ``allow_self`` (the submitter may approve their own request here) and, only with it,
    ``skip.submitter``. Defaults are written by leaving the key out."""

    node: str
    no_approver: str = NO_APPROVER[0]
    skip_approved: bool = False
    skip_submitter: bool = False
    allow_self: bool = False

    def apply(self, document: Document) -> None:
        _node_of_kind(
            document,
            self.node,
            ("approval",),
            N_("only an approval step has approvers to pass over"),
        )
        if self.no_approver not in NO_APPROVER:
            raise DocumentError(
                N_("with nobody to ask, a step refuses, is skipped or goes to the admins")
            )
        if self.skip_submitter and not self.allow_self:
            raise DocumentError(
                N_("passing over the submitter is for a step that lets them approve")
            )
        path = (NODES, self.node)
        _put(document, (*path, "no_approver"), self.no_approver, NO_APPROVER[0])
        skip = {"already_approved": self.skip_approved, "submitter": self.skip_submitter}
        if not any(skip.values()):
            document.delete((*path, "skip"))
        elif not isinstance(document.get(path).get("skip"), Mapping):
            document.set((*path, "skip"), {name: True for name, on in skip.items() if on})
        else:
            for name, on in skip.items():
                _put(document, (*path, "skip", name), True if on else None, None)
        _put(document, (*path, "allow_self"), self.allow_self or None, None)


@dataclass(frozen=True)
class SetState:
    """The state an approval step shows while it waits, or an end node gives the record;
    empty removes it. That it is an option of the state field is the compiler's to say."""

    node: str
    state: str = ""

    def apply(self, document: Document) -> None:
        _node_of_kind(
            document,
            self.node,
            ("approval", "end"),
            N_("only an approval step or an end sets the record's state"),
        )
        _put(document, (NODES, self.node, "state"), self.state.strip() or None, None)


@dataclass(frozen=True)
class SetOutcome:
    """The outcome an end node ends the request with; empty (or the node's own key, the
    format's default) removes it."""

    node: str
    outcome: str = ""

    def apply(self, document: Document) -> None:
        _node_of_kind(document, self.node, ("end",), N_("only an end node has an outcome"))
        outcome = self.outcome.strip() or self.node
        _put(document, (NODES, self.node, "outcome"), outcome, self.node)


def _put(document: Document, path: tuple[str, ...], value: Any, default: Any) -> None:
    """Write ``value`` at ``path``: a value already there keeps its line, and the format's
    ``default`` (or ``None``) is written by leaving the key out."""
    parent = document.get(path[:-1])
    if isinstance(parent, Mapping) and path[-1] in parent and parent[path[-1]] == value:
        return
    if value is None or value == default:
        document.delete(path)
    else:
        _set_before_next(document, path, value)


def _put_list(document: Document, path: tuple[str, ...], values: Sequence[str]) -> None:
    """A list of keys written on one line, in order, each once; empty removes it."""
    wanted = [str(value).strip() for value in values if str(value).strip()]
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        document.delete(path)
    elif to_plain(document.get(path[:-1]).get(path[-1])) != wanted:
        _set_before_next(document, path, _flow_list(wanted))


def _set_before_next(document: Document, path: tuple[str, ...], value: Any) -> None:
    """Set ``value`` at ``path``; a new key goes before the node's ``next``, which the
    shipped flows write last, so the flow still reads from its settings to where it goes."""
    parent = document.get(path[:-1])
    new = isinstance(parent, CommentedMap) and path[-1] not in parent
    document.set(path, value)
    if new and "next" in parent:
        moved = parent.pop(path[-1])
        parent.insert(list(parent).index("next"), path[-1], moved)


def _new_step(key: str, kind: str, label: Mapping[str, str]) -> dict[str, Any]:
    """A new approval or cc node asking the default people (no ``next`` yet)."""
    if kind not in ADDABLE:
        raise DocumentError(f"a step is one of {', '.join(ADDABLE)}, not '{kind}'")
    people = "approvers" if kind == "approval" else "recipients"
    node: dict[str, Any] = {
        "key": key,
        "type": kind,
        "label": dict(label) or {"zh": key, "en": key},
        people: _flow_list([yaml_node(dict(rule)) for rule in DEFAULT_RULES]),
    }
    if kind == "approval":
        node["no_approver"] = "admins"
    return node


def _lane_of(document: Document, key: str) -> tuple[str, int] | None:
    """The parallel node and lane ``key`` runs in, if it runs in one."""
    for node in document.items((NODES,)):
        for index, lane in enumerate(node.get("lanes") or []):
            if isinstance(lane, list) and key in lane:
                return str(node["key"]), index
    return None


def _leave_lane(document: Document, key: str) -> None:
    """Take ``key`` out of its lane; a lane left empty goes too."""
    found = _lane_of(document, key)
    if found is None:
        return
    parallel, index = found
    lane = document.get((NODES, parallel, "lanes", index))
    lane.remove(key)
    document.changed = True
    if not lane:
        document.delete((NODES, parallel, "lanes", index))


def _number(hours: float | None) -> int | float | None:
    """Whole hours written as ``24``, not ``24.0``."""
    if hours is None:
        return None
    return int(hours) if float(hours).is_integer() else hours


def _forget(document: Document, key: str) -> None:
    """Rejections can no longer return to ``key``."""
    for other in document.items((NODES,)):
        targets = other.get("reject_to")
        if isinstance(targets, list) and key in targets:
            targets.remove(key)
            document.changed = True
            if not targets:
                document.delete((NODES, other["key"], "reject_to"))


def _start(document: Document) -> str | None:
    for node in document.items((NODES,)):
        if node.get("type") == "start":
            return str(node["key"])
    return None


def _reachable(document: Document, first: Any) -> set[str]:
    """The nodes reached from ``first`` by ``next``, branches, lanes and rejections."""
    nodes = {str(node.get("key")): node for node in document.items((NODES,))}
    seen: set[str] = set()
    waiting: list[Any] = [first] if isinstance(first, str) else []
    while waiting:
        key = waiting.pop()
        if key in seen or key not in nodes:
            continue
        seen.add(key)
        node = nodes[key]
        waiting += [node["next"]] if isinstance(node.get("next"), str) else []
        waiting += [b.get("next") for b in node.get("branches") or [] if isinstance(b, Mapping)]
        waiting += [step for lane in node.get("lanes") or [] for step in lane]
        waiting += [t for t in node.get("reject_to") or [] if isinstance(t, str)]
    return seen


def _insert(document: Document, link: Link, node: dict[str, Any]) -> None:
    onward = link.target(document)
    if onward is not None and node["type"] != "condition":
        node["next"] = onward
    document.insert((NODES,), node, link.after)
    link.point(document, node["key"])


def _next_of(document: Document, link: Link) -> str | None:
    node = document.get((NODES, link.after))
    if link.branch is None:
        if node.get("type") == "condition":
            raise DocumentError("a step after a condition goes at the head of one branch")
        if node.get("type") == "end":
            raise DocumentError("nothing comes after an end")
        found = node.get("next")
    else:
        found = document.get((NODES, link.after, "branches", link.branch)).get("next")
    return str(found) if found is not None else None


def _relink(document: Document, path: tuple[str | int, ...], onward: str | None) -> None:
    if onward is None:
        document.delete(path)
    else:
        document.set(path, onward)


def _flow_list(items: list[Any]) -> CommentedSeq:
    """A list written on one line, as the shipped flows write them."""
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _not_default(document: Document, node: str, index: int, refusal: str) -> Any:
    """The condition's branch ``index``, refused with ``refusal`` when it is the default."""
    branch = document.get((NODES, node, "branches", index))
    if branch.get("default"):
        raise DocumentError(refusal)
    return branch


def _node_of_kind(document: Document, node: str, kinds: tuple[str, ...], refusal: str) -> Any:
    """The node ``node``, refused with ``refusal`` unless it is one of ``kinds``: most
    settings belong to one kind of node only."""
    found = document.get((NODES, node))
    if found.get("type") not in kinds:
        raise DocumentError(refusal)
    return found


def _default_index(branches: Sequence[Any]) -> int | None:
    for index, branch in enumerate(branches):
        if isinstance(branch, Mapping) and branch.get("default"):
            return index
    return None


FlowOperation = (
    AddStep
    | AddCondition
    | AddBranch
    | SetBranchCondition
    | RemoveBranch
    | RemoveStep
    | SetApprovers
    | SetDecisionMode
    | SetFieldPermissions
    | AddParallel
    | AddLaneStep
    | SetJoin
    | SetTimeout
    | SetActions
    | SetRejectTo
    | SetSubmitting
    | SetPassingOver
    | SetState
    | SetOutcome
)
