"""Editing an approval flow as the workflow designer draws it: "+" between steps.

The flow's YAML links nodes by ``next`` and by the ``branches`` of condition nodes; the
designer shows a tree. Each operation here is one click on that tree, applied to the round-
trip document (so comments and key order survive): a node or a condition is added *at a
link* (after a node, or at the head of one branch of a condition), and removing a node joins
its neighbours again. Nodes are named by key; a condition's branches have no key in the
format, so they are named by their position in the condition, which the page shows.

Whether the result is a valid flow is not judged here: the compiler the server runs says so
(with ``FILE:LINE:COL``), and the draft cannot be published until it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedSeq

from formflow.designer.documents import Document, DocumentError, yaml_node

NODES = "nodes"
ADDABLE = ("approval", "cc")
"""The kinds of step the "+" adds; conditions have their own operation."""
REMOVABLE = ("approval", "cc", "condition")
DEFAULT_RULES: tuple[Mapping[str, str], ...] = ({"manager": "submitter"},)
"""A new step's people until the admin chooses: the submitter's manager."""
MODES = ("sequential", "all", "any", "vote")
PERMISSIONS = ("edit", "read", "hidden")


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
        if self.kind not in ADDABLE:
            raise DocumentError(f"a step is one of {', '.join(ADDABLE)}, not '{self.kind}'")
        people = "approvers" if self.kind == "approval" else "recipients"
        node: dict[str, Any] = {
            "key": self.key,
            "type": self.kind,
            "label": dict(self.label) or {"zh": self.key, "en": self.key},
            people: _flow_list([yaml_node(dict(rule)) for rule in DEFAULT_RULES]),
        }
        if self.kind == "approval":
            node["no_approver"] = "admins"
        _insert(document, self.link, node)


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
        branch = document.get((NODES, self.node, "branches", self.branch))
        if branch.get("default"):
            raise DocumentError("the default branch is taken when no other holds")
        document.set((NODES, self.node, "branches", self.branch, "when"), self.when)


@dataclass(frozen=True)
class RemoveBranch:
    """Remove a branch other than the default, with the steps only it reached."""

    node: str
    branch: int

    def apply(self, document: Document) -> None:
        branch = document.get((NODES, self.node, "branches", self.branch))
        if branch.get("default"):
            raise DocumentError("a condition keeps its default branch")
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
)
