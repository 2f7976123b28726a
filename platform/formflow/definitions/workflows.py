"""Compiling workflow files into the frozen :class:`~formflow.workflows.model.Workflow`.

The JSON Schema has vouched for the shape; this checks meaning, each problem at its place
(``FILE:LINE:COL``): node keys that clash or are never reached, ``next`` and ``reject_to``
naming nodes that do not exist, condition branches with no default, approvers that cannot
resolve (unknown roles, fields that hold no users), and fields or states that the form does
not have. A flow that passes can always be run: the engine never meets a dangling key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from formflow.automations.params import NOTIFY
from formflow.definitions.compiling import (
    CONTEXT_NAMES,
    DocumentCompiler,
    compile_expression,
    label,
    named_form,
    unknown,
)
from formflow.definitions.model import SYSTEM_FIELDS, Form, Label
from formflow.definitions.notified import hidden_from_told
from formflow.definitions.source import PathKey
from formflow.workflows.field_questions import holds_one_option, holds_users
from formflow.workflows.model import (
    SUBMITTER,
    ActionCall,
    ApprovalNode,
    ApproverRule,
    ApproverSource,
    Branch,
    CcNode,
    ConditionNode,
    DecisionMode,
    EndNode,
    FieldRules,
    Join,
    NoApprover,
    Node,
    ParallelNode,
    StartNode,
    StateNames,
    StepTimeout,
    TimeoutAction,
    Withdraw,
    Workflow,
)

SET_ACTION = "set"
"""The built-in action: give fields of the record values."""


START_LABEL = Label(zh="发起", en="Start")
"""What an unlabelled start node is called in the timeline, the diagram and the designer."""


def compile_workflow(compiler: DocumentCompiler, forms: Mapping[str, Form]) -> Workflow | None:
    """A :class:`Workflow` from ``compiler.document``, or ``None`` if its form is unknown."""
    data = compiler.document.data
    form = named_form(data["form"], forms, compiler.context, compiler.error, ("form",))
    if form is None:
        return None
    return _FlowCompiler(compiler, form).compile()


class _FlowCompiler:
    def __init__(self, compiler: DocumentCompiler, form: Form) -> None:
        self.compiler = compiler
        self.form = form
        self.data: dict[str, Any] = compiler.document.data
        self.names = frozenset(f.key for f in form.fields) | SYSTEM_FIELDS.keys() | CONTEXT_NAMES
        self.options: tuple[str, ...] | None = None
        self.node_index: dict[str, int] = {}

    def error(self, path: PathKey, message: str) -> None:
        self.compiler.error(path, message)

    def compile(self) -> Workflow:
        state_field = self._state_field()
        states = StateNames(
            **{
                name: self._state(value, ("states", name))
                for name, value in self.data.get("states", {}).items()
            }
        )
        items: list[dict[str, Any]] = self.data["nodes"]
        for index, item in enumerate(items):
            if item["key"] in self.node_index:
                self.error(("nodes", index, "key"), f"duplicate node '{item['key']}'")
            else:
                self.node_index[item["key"]] = index
        nodes = tuple(self._node(item, ("nodes", index)) for index, item in enumerate(items))
        self._check_graph(nodes)
        return Workflow(
            key=self.data["key"],
            label=label(self.data["label"]),
            form=self.form.key,
            state_field=state_field,
            states=states,
            nodes=nodes,
        )

    # pieces ---------------------------------------------------------------------------

    def _state_field(self) -> str | None:
        key: str | None = self.data.get("state_field")
        if key is None:
            return None
        if not self.form.has_field(key) or not holds_one_option(self.form.field(key)):
            self.error(
                ("state_field",),
                f"state_field '{key}' must be a select field of form '{self.form.key}'",
            )
            return key
        self.options = self.form.field(key).option_values
        return key

    def _state(self, value: str | None, path: PathKey) -> str | None:
        if value is None:
            return None
        if "state_field" not in self.data:
            self.error(path, "a state needs the workflow's state_field")
        elif self.options is not None and value not in self.options:
            field_key = self.data["state_field"]
            self.error(
                path,
                f"state '{value}' is not an option of '{field_key}' ({', '.join(self.options)})",
            )
        return value

    def _unlabelled(self, item: Mapping[str, Any]) -> Label:
        """A node without a label is named by the state it sets (an end node "rejected"
        reads 已驳回 / Rejected, as its option does), by the one role that decides it
        (部门经理), a start node 发起 / Start (its key would show on Chinese pages), else
        by its key."""
        if item["type"] == "start":
            return START_LABEL
        state = item.get("state")
        field_key = self.data.get("state_field")
        if self.options is not None and state in self.options and field_key:
            for option in self.form.field(field_key).options:
                if option.value == state:
                    return option.label
        deciders = item.get("approvers", item.get("recipients", ()))
        if len(deciders) == 1 and set(deciders[0]) == {"role"}:
            found = self.compiler.context.role_labels.get(deciders[0]["role"])
            if found is not None:
                return found
        return label(item["key"])

    def _node(self, item: Mapping[str, Any], path: PathKey) -> Node:
        key = item["key"]
        common: dict[str, Any] = {
            "key": key,
            "label": label(item["label"]) if "label" in item else self._unlabelled(item),
            "on_enter": self._actions(item.get("on_enter", ()), (*path, "on_enter")),
            "on_leave": self._actions(item.get("on_leave", ()), (*path, "on_leave")),
        }
        kind = item["type"]
        if kind == "start":
            for position, role in enumerate(item.get("roles", ())):
                self._role(role, (*path, "roles", position))
            sources = tuple(item.get("from", ()))
            for position, source in enumerate(sources):
                self._state(source, (*path, "from", position))
            condition = None
            if "condition" in item:
                condition = compile_expression(
                    self.compiler, item["condition"], (*path, "condition"), self.names
                )
            return StartNode(
                **common,
                next=item["next"],
                roles=tuple(item.get("roles", ())),
                sources=sources,
                condition=condition,
                withdraw=Withdraw(item.get("withdraw", Withdraw.UNTIL_FIRST_DECISION)),
            )
        if kind == "approval":
            return self._approval(item, path, common)
        if kind == "condition":
            return ConditionNode(**common, branches=self._branches(item["branches"], path))
        if kind == "parallel":
            return ParallelNode(
                **common,
                next=item["next"],
                join=Join(item.get("join", Join.ALL)),
                lanes=tuple(tuple(lane) for lane in item["lanes"]),
            )
        if kind == "cc":
            return CcNode(
                **common,
                next=item.get("next", ""),
                recipients=self._approvers(item["recipients"], (*path, "recipients")),
            )
        return EndNode(
            key=key,
            label=common["label"],
            on_enter=self._actions(item.get("actions", ()), (*path, "actions")),
            outcome=item.get("outcome", key),
            state=self._state(item.get("state"), (*path, "state")),
        )

    def _approval(
        self, item: Mapping[str, Any], path: PathKey, common: dict[str, Any]
    ) -> ApprovalNode:
        mode = DecisionMode(item.get("mode", DecisionMode.SEQUENTIAL))
        ratio = Decimal(str(item["ratio"])) if "ratio" in item else None
        if mode is DecisionMode.VOTE and ratio is None:
            self.error((*path, "mode"), "a vote needs a ratio (the share of approvals that passes)")
        if mode is not DecisionMode.VOTE and ratio is not None:
            self.error((*path, "ratio"), "ratio is for mode: vote only")
        fields = item.get("fields", {})
        rules = FieldRules(
            **{
                name: frozenset(self._fields(fields.get(name, ()), (*path, "fields", name)))
                for name in ("edit", "read", "hidden")
            }
        )
        state_field = self.data.get("state_field")
        if state_field in rules.edit:
            position = list(fields["edit"]).index(state_field)
            self.error(
                (*path, "fields", "edit", position),
                f"'{state_field}' is the workflow's state field: only the flow changes it",
            )
        skip = item.get("skip", {})
        return ApprovalNode(
            **common,
            next=item.get("next", ""),
            approvers=self._approvers(item["approvers"], (*path, "approvers")),
            mode=mode,
            ratio=ratio,
            fields=rules,
            no_approver=NoApprover(item.get("no_approver", NoApprover.REFUSE)),
            skip_approved=skip.get("already_approved", False),
            skip_submitter=skip.get("submitter", False),
            allow_self=item.get("allow_self", False),
            reject_to=tuple(item.get("reject_to", (SUBMITTER,))),
            state=self._state(item.get("state"), (*path, "state")),
            timeout=self._timeout(item.get("timeout"), (*path, "timeout")),
        )

    def _timeout(self, given: Mapping[str, Any] | None, path: PathKey) -> StepTimeout | None:
        """A node's clock; acting must come after reminding, or the reminder is moot."""
        if not given:
            return None
        remind = given.get("remind_after_hours")
        act = given.get("after_hours")
        if remind is not None and act is not None and act <= remind:
            self.error(
                (*path, "after_hours"),
                f"after_hours ({act}) must be later than remind_after_hours ({remind})",
            )
        action = given.get("action")
        return StepTimeout(
            remind_after=timedelta(hours=remind) if remind is not None else None,
            act_after=timedelta(hours=act) if act is not None else None,
            action=TimeoutAction(action) if action is not None else None,
        )

    def _branches(self, items: Sequence[Mapping[str, Any]], path: PathKey) -> tuple[Branch, ...]:
        branches = []
        defaults = 0
        for index, item in enumerate(items):
            condition = None
            if "when" in item:
                condition = compile_expression(
                    self.compiler, item["when"], (*path, "branches", index, "when"), self.names
                )
            else:
                defaults += 1
                if defaults > 1:
                    self.error((*path, "branches", index), "a condition has one default branch")
                elif index != len(items) - 1:
                    self.error(
                        (*path, "branches", index),
                        "the default branch comes last: branches are tried in order",
                    )
            branches.append(Branch(next=item["next"], condition=condition))
        if defaults == 0:
            self.error(
                (*path, "branches"),
                "a condition needs a default branch ({default: true, next: ...}) for when none matches",
            )
        return tuple(branches)

    def _approvers(
        self, items: Sequence[Mapping[str, Any]], path: PathKey
    ) -> tuple[ApproverRule, ...]:
        rules = []
        for index, item in enumerate(items):
            where = (*path, index)
            if "users" in item:
                rules.append(ApproverRule(ApproverSource.USERS, users=tuple(item["users"])))
            elif "role" in item:
                self._role(item["role"], (*where, "role"))
                rules.append(
                    ApproverRule(
                        ApproverSource.ROLE,
                        role=item["role"],
                        within_submitter_department="within" in item,
                    )
                )
            elif "manager" in item:
                if item["manager"] == "record":
                    if "levels" in item:
                        self.error((*where, "levels"), "levels is for manager: submitter only")
                    rules.append(ApproverRule(ApproverSource.RECORD_MANAGER))
                else:
                    rules.append(ApproverRule(ApproverSource.MANAGER, levels=item.get("levels", 1)))
            elif "field" in item:
                key = item["field"]
                if not self.form.has_field(key) and key not in ("created_by", "updated_by"):
                    self.error(
                        (*where, "field"), f"unknown field '{key}' in form '{self.form.key}'"
                    )
                elif self.form.has_field(key) and not holds_users(self.form.field(key)):
                    self.error(
                        (*where, "field"),
                        f"field '{key}' holds no users, so it cannot name approvers",
                    )
                rules.append(ApproverRule(ApproverSource.FIELD, field=key))
            else:
                expression = compile_expression(
                    self.compiler, item["expression"], (*where, "expression"), self.names
                )
                rules.append(ApproverRule(ApproverSource.EXPRESSION, expression=expression))
            if "within" in item and "role" not in item:
                self.error((*where, "within"), "within is for role only")
            if "levels" in item and item.get("manager") != "submitter" and "manager" not in item:
                self.error((*where, "levels"), "levels is for manager: submitter only")
        return tuple(rules)

    def _actions(self, items: Sequence[Mapping[str, Any]], path: PathKey) -> tuple[ActionCall, ...]:
        calls = []
        for index, item in enumerate(items):
            if "set" in item:
                for key in item["set"]:
                    if not self.form.has_field(key):
                        self.error(
                            (*path, index, "set", key),
                            f"unknown field '{key}' in form '{self.form.key}'",
                        )
                calls.append(ActionCall(SET_ACTION, MappingProxyType(dict(item["set"]))))
            else:
                params = MappingProxyType(dict(item.get("params", {})))
                if item["action"] == NOTIFY:
                    environment = self.compiler.context.expressions.environment
                    for key, message in hidden_from_told(self.form, environment, params):
                        self.error((*path, index, "params", key), message)
                calls.append(ActionCall(item["action"], params))
        return tuple(calls)

    def _fields(self, keys: Sequence[str], path: PathKey) -> list[str]:
        for position, key in enumerate(keys):
            if not self.form.has_field(key):
                self.error((*path, position), f"unknown field '{key}' in form '{self.form.key}'")
        return list(keys)

    def _role(self, role: str, path: PathKey) -> None:
        if role not in self.compiler.context.role_keys:
            self.error(
                path,
                unknown("role", role, self.compiler.context.role_keys)
                + " (declare it in app.yaml roles)",
            )

    # the graph ------------------------------------------------------------------------

    def _check_graph(self, nodes: tuple[Node, ...]) -> None:
        by_key = {node.key: node for node in nodes}
        starts = [node for node in nodes if isinstance(node, StartNode)]
        if len(starts) != 1:
            self.error(("nodes",), f"a flow has exactly one start node, not {len(starts)}")
        in_lane: dict[str, str] = {}
        for node in nodes:
            if isinstance(node, ParallelNode):
                for lane_index, lane in enumerate(node.lanes):
                    for position, key in enumerate(lane):
                        path = (*self._path(node.key), "lanes", lane_index, position)
                        member = by_key.get(key)
                        if member is None:
                            self.error(path, unknown("node", key, by_key))
                        elif not isinstance(member, ApprovalNode | CcNode):
                            self.error(path, f"'{key}' is not an approval or cc node")
                        elif key in in_lane:
                            self.error(path, f"'{key}' is already in a lane of '{in_lane[key]}'")
                        else:
                            in_lane[key] = node.key
        for node in nodes:
            for where, target in _targets(node):
                path = (*self._path(node.key), *where)
                if target not in by_key:
                    self.error(path, unknown("node", target, by_key))
                elif target in in_lane:
                    self.error(
                        path, f"'{target}' runs in a lane of '{in_lane[target]}'; go to that node"
                    )
                elif isinstance(by_key[target], StartNode):
                    self.error(path, "no node leads back to the start; reject to submitter instead")
            if isinstance(node, ApprovalNode | CcNode):
                if node.key in in_lane and node.next:
                    self.error(
                        (*self._path(node.key), "next"),
                        "a node in a parallel lane has no next: the lane goes on in order",
                    )
                elif node.key not in in_lane and not node.next:
                    self.error(self._path(node.key), "this node needs a next node")
        reached = _reachable(starts[0], by_key) if starts else set()
        for node in nodes:
            if node.key not in reached and starts:
                self.error(
                    (*self._path(node.key), "key"),
                    f"node '{node.key}' is never reached from the start",
                )
        for node in nodes:
            if isinstance(node, ApprovalNode):
                self._check_reject_to(node, by_key, reached)

    def _check_reject_to(
        self, node: ApprovalNode, by_key: Mapping[str, Node], reached: set[str]
    ) -> None:
        for position, target in enumerate(node.reject_to):
            path = (*self._path(node.key), "reject_to", position)
            found = by_key.get(target)
            if target == SUBMITTER or isinstance(found, EndNode):
                continue
            if not isinstance(found, ApprovalNode):
                self.error(
                    path, f"reject to '{target}': give submitter, an approval node or an end node"
                )
            elif (
                node.key not in _reachable(found, by_key, rejections=False) or found.key == node.key
            ):
                self.error(path, f"'{target}' does not come before '{node.key}'")

    def _path(self, key: str) -> PathKey:
        return ("nodes", self.node_index.get(key, 0))


def _targets(node: Node) -> list[tuple[PathKey, str]]:
    """The nodes ``node`` may go to next, with where each is written."""
    if isinstance(node, ConditionNode):
        return [(("branches", index, "next"), b.next) for index, b in enumerate(node.branches)]
    nxt = getattr(node, "next", "")
    return [(("next",), nxt)] if nxt else []


def _reachable(start: Node, by_key: Mapping[str, Node], *, rejections: bool = True) -> set[str]:
    """The nodes a run can reach from ``start``; with ``rejections``, also by rejecting."""
    seen: set[str] = set()
    todo = [start.key]
    while todo:
        key = todo.pop()
        node = by_key.get(key)
        if node is None or key in seen:
            continue
        seen.add(key)
        todo.extend(target for _where, target in _targets(node))
        if isinstance(node, ParallelNode):
            todo.extend(key for lane in node.lanes for key in lane)
        if rejections and isinstance(node, ApprovalNode):
            todo.extend(target for target in node.reject_to if target != SUBMITTER)
    return seen
