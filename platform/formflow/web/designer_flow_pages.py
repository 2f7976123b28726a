"""The workflow designer's edits and its simulation: the clicks on the drawn flow.

Routes on the designer's blueprint. Each posted form names one edit of the flow (a step added
at a "+", a branch, a parallel node or a step in one of its lanes, the people of a step, its
decision mode, its field permissions, its clock, its actions, where rejections go) and
becomes one :mod:`formflow.designer.flow_edits` operation, saved to the draft at once; the
page is drawn again with the compiler's errors beside the nodes they are about, which block
publishing until fixed. The page posts through htmx (boosted forms that swap the designer's
part of the page) and works the same without script.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml
from flask import flash, get_flashed_messages, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from formflow.definitions import App
from formflow.definitions.source import SourceError, parse_document
from formflow.designer import Designer
from formflow.designer.documents import DocumentError
from formflow.designer.drafts import DraftConflict
from formflow.designer.flow_edits import (
    ACTION_SLOTS,
    JOINS,
    NO_APPROVER,
    PERMISSIONS,
    SUBMITTER,
    TIMEOUT_ACTIONS,
    WITHDRAWALS,
    AddBranch,
    AddCondition,
    AddLaneStep,
    AddParallel,
    AddStep,
    FlowOperation,
    Link,
    RemoveBranch,
    RemoveStep,
    SetActions,
    SetApprovers,
    SetBranchCondition,
    SetDecisionMode,
    SetFieldPermissions,
    SetJoin,
    SetOutcome,
    SetPassingOver,
    SetRejectTo,
    SetState,
    SetSubmitting,
    SetTimeout,
)
from formflow.designer.flows import node_at, node_spans
from formflow.designer.service import EditRefused
from formflow.designer.simulate import Simulation
from formflow.errors import DefinitionError, DefinitionErrors, FormflowError
from formflow.web import context
from formflow.web.designer_pages import (
    _document_file,
    _located,
    _read,
    blueprint,
    flash_refusal,
)
from formflow.web.ids import parse_id

BESIDE = "beside"
"""The flash category of a refused edit: the workflow page shows it beside its node."""


def rule_line(rule: Mapping[str, Any]) -> str:
    """An approver rule as one line of the rules box: ``role: finance``."""
    return ", ".join(
        f"{key}: [{', '.join(map(str, value))}]" if isinstance(value, list) else f"{key}: {value}"
        for key, value in rule.items()
    )


def typed_yaml(text: str, name: str) -> Any:
    """YAML typed into a box, read as the compiler reads a file (:class:`SourceError`
    otherwise): a value reached through aliases of aliases is counted each time, so a few
    bytes cannot expand to a billion values, and no value holds itself."""
    return parse_document(text.encode("utf-8"), name).data


def parse_rules(text: str) -> list[dict[str, Any]]:
    """The rules box, one rule a line in YAML's flow words (``manager: submitter, levels: 2``)."""
    rules: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rule = typed_yaml(line if line.startswith("{") else "{" + line + "}", "rule")
        except SourceError as exc:
            why = f"{line} ({exc.error.message})"
            raise ValueError(_("This rule does not read: %(rule)s", rule=why)) from exc
        if not isinstance(rule, dict):
            raise ValueError(_("This rule does not read: %(rule)s", rule=line))
        rules.append(rule)
    if not rules:
        raise ValueError(_("A step needs at least one rule to find its people."))
    return rules


def parse_actions(text: str) -> list[dict[str, Any]]:
    """An actions box: a YAML list as the format writes it (``- set: {paid: true}``); empty
    for none. Whether each action is one the flow may run is the compiler's to say."""
    try:
        actions = typed_yaml(text, "actions") if text.strip() else []
    except SourceError as exc:
        problem = exc.error.message
        raise ValueError(
            _("These actions do not read as YAML: %(problem)s", problem=problem)
        ) from exc
    if not isinstance(actions, list) or not all(isinstance(item, dict) for item in actions):
        raise ValueError(_("Actions are a list, one '- set: {...}' or '- action: ...' a line."))
    return actions


def actions_text(actions: Any) -> str:
    """A node's actions as the actions box shows them: YAML, one action an item."""
    if not actions:
        return ""
    return str(yaml.safe_dump(actions, allow_unicode=True, sort_keys=False, width=90))


def node_errors(path: str, text: str, errors: tuple[DefinitionError, ...]) -> dict[str, list[str]]:
    """The compiler's errors about each node, by its key: an error belongs to the node
    whose lines hold it, so the page shows it beside that node. The lines are read from
    the saved text itself (a parsed document kept for editing remembers older lines)."""
    spans = node_spans(text)
    found: dict[str, list[str]] = {}
    for error in errors:
        owner = node_at(spans, error.line) if error.file == path else None
        if owner is not None:
            found.setdefault(owner, []).append(f"{error.line}:{error.column}: {error.message}")
    return found


def reject_choices(nodes: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Where each approval step's rejections may go, as the compiler allows: the
    submitter, an approval step that comes before it (by ``next``, branches and lanes),
    or an end node."""
    ends = [key for key, node in nodes.items() if node.get("type") == "end"]
    after = {key: _onward(nodes, key) for key in nodes}
    choices: dict[str, list[str]] = {}
    for key, node in nodes.items():
        if node.get("type") == "approval":
            earlier = [
                other
                for other, found in nodes.items()
                if found.get("type") == "approval" and other != key and key in after[other]
            ]
            choices[key] = [SUBMITTER, *earlier, *ends]
    return choices


def _onward(nodes: Mapping[str, Mapping[str, Any]], first: str) -> set[str]:
    """The nodes reached from ``first`` by ``next``, branches and lanes (not rejections)."""
    seen: set[str] = set()
    waiting = [first]
    while waiting:
        node = nodes.get(waiting.pop(), {})
        found = [node.get("next")]
        found += [b.get("next") for b in node.get("branches") or [] if isinstance(b, Mapping)]
        found += [k for lane in node.get("lanes") or [] if isinstance(lane, list) for k in lane]
        for key in found:
            if isinstance(key, str) and key in nodes and key not in seen:
                seen.add(key)
                waiting.append(key)
    return seen


def flow_page_context(service: Designer, app_key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What the workflow page shows beside the tree: the form's fields (for permissions
    and the sample record), the nodes' settings by key and the compiler's errors by node,
    the simulation asked for, undo."""
    fields: list[tuple[str, Any]] = []
    simulation: Simulation | None = None
    problem = None
    errors: tuple[DefinitionError, ...] = ()
    draft = service.draft(app_key)
    app: App | None = None
    try:
        app = service.compile(draft.texts())
        form = app.forms.get(str(data.get("form")))
        fields = [(field.key, field.label) for field in form.fields] if form else []
        if request.args.get("simulate"):
            simulation = _simulation(service, app_key, str(data.get("key")))
    except DefinitionErrors as exc:
        errors = exc.errors
    except (FormflowError, ValueError, KeyError) as exc:
        problem = str(exc)
    nodes = {
        str(node["key"]): node
        for node in data.get("nodes", [])
        if isinstance(node, Mapping) and "key" in node
    }
    used = json.dumps(data, ensure_ascii=False, default=str)
    errors_by_node: dict[str, list[str]] = {}
    key = data.get("key")
    if errors and isinstance(key, str):
        path = _document_file(draft, "workflows", key)
        errors_by_node = node_errors(path, draft.files[path].text, errors)
    refusals = get_flashed_messages(category_filter=[BESIDE])
    opened = request.args.get("node", "")
    return {
        "node_errors": errors_by_node,
        "refusals": {opened: refusals} if opened in nodes else {},
        "stray_refusals": [] if opened in nodes else refusals,
        "role_choices": _roles(app),
        "state_choices": _states(app, data),
        "with_current": with_current,
        "reject_choices": reject_choices(nodes),
        "joins": JOINS,
        "timeout_actions": TIMEOUT_ACTIONS,
        "action_slots": ACTION_SLOTS,
        "actions_text": actions_text,
        "form_fields": fields,
        "sample_fields": [
            (key, label) for key, label in fields if re.search(rf"(?<!\w){key}(?!\w)", used)
        ],
        "nodes": nodes,
        "simulation": simulation,
        "simulated": {step.key: step for step in simulation.steps} if simulation else {},
        "simulation_problem": problem,
        "sample": {key: request.args.get(f"v_{key}", "") for key, _label in fields},
        "permission_of": _permission_of,
        "permissions": PERMISSIONS,
        "rule_line": rule_line,
        "can_undo": service.can_undo(app_key),
    }


def with_current(choices: list[tuple[str, Any]], current: Any) -> list[tuple[str, Any]]:
    """The choices offered, then the values the flow names already that are not among them
    (an unknown role stays ticked, so applying the form does not drop it unseen)."""
    known = {value for value, _label in choices}
    names = current if isinstance(current, list) else []
    return choices + [(str(name), str(name)) for name in names if name not in known]


def _roles(app: App | None) -> list[tuple[str, Any]]:
    """The app's roles, to tick who may submit (none while the draft does not compile:
    the roles a start node names already are offered all the same)."""
    return [(role.key, role.label) for role in app.roles] if app else []


def _states(app: App | None, data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The options of the flow's state field: what a step, an end or submitting may name."""
    form = app.forms.get(str(data.get("form"))) if app else None
    state_field = data.get("state_field")
    if form is None or not isinstance(state_field, str) or not form.has_field(state_field):
        return []
    return [(option.value, option.label) for option in form.field(state_field).options]


def _simulation(service: Designer, app_key: str, workflow_key: str) -> Simulation:
    record_id = request.args.get("record_id", type=parse_id)
    typed = {
        key.removeprefix("v_"): value for key, value in request.args.items() if key.startswith("v_")
    }
    return service.simulate(
        app_key,
        workflow_key,
        record_id=record_id,
        typed=typed,
        submitter_id=context.user().id,
    )


def _permission_of(node: Mapping[str, Any], field_key: str) -> str:
    table = node.get("fields") or {}
    for name in PERMISSIONS:
        if field_key in (table.get(name) or []):
            return name
    return "locked"


@blueprint.post("/<app_key>/workflows/<workflow_key>/edit")
def workflow_edit(app_key: str, workflow_key: str) -> Response:
    """Apply one edit of the drawn flow, then show the flow again."""
    service, draft, path = _located(app_key, "workflows", workflow_key)
    revision = request.form.get("revision", type=int) or 0
    node = request.form.get("node", "").strip()
    opened = node  # the node edited stays open, or the one added
    if request.form.get("action", "").startswith("add_") and request.form.get("new_key"):
        opened = request.form.get("new_key", "")
    where = BESIDE if opened == node else "error"  # a refusal is shown beside its node
    try:
        _read(path, draft.files[path].text)
        checked = _checked_operations(request.form.get("action", ""), node, request.form)
        operations = checked or [_operation(request.form)]
        user = context.user().id
        service.apply(
            app_key, path, revision, operations, user, checked_node=node if checked else None
        )
    except EditRefused as exc:
        for found in exc.problems:
            flash(_("Not saved: %(problem)s", problem=found.message), BESIDE)
    except (DraftConflict, SourceError, DocumentError, ValueError) as refusal:
        flash_refusal(refusal, where)
    return redirect(
        url_for(".workflow", app_key=app_key, workflow_key=workflow_key, node=opened or None)
    )


def _checked_operations(action: str, node: str, posted: Any) -> list[FlowOperation]:
    """The settings naming what the app defines (roles, states, conditions, outcomes):
    checked by the compiler before they are saved, so a name the app lacks is refused
    beside the node and nothing is written. Empty for the other edits."""
    if action == "submitting":
        withdraw = posted.get("withdraw") or WITHDRAWALS[0]
        roles, sources = posted.getlist("roles"), posted.getlist("from")
        return [SetSubmitting(node, roles, sources, posted.get("condition", ""), withdraw)]
    if action == "passing_over":
        ticked = {name: posted.get(name) == "1" for name in ("approved", "submitter", "self")}
        no_approver = posted.get("no_approver") or NO_APPROVER[0]
        return [
            SetPassingOver(
                node, no_approver, ticked["approved"], ticked["submitter"], ticked["self"]
            )
        ]
    if action == "state":
        return [SetState(node, posted.get("state", ""))]
    if action == "ending":
        return [
            SetOutcome(node, posted.get("outcome", "")),
            SetState(node, posted.get("state", "")),
        ]
    return []


def _operation(posted: Any) -> FlowOperation:
    action = posted.get("action", "")
    node = posted.get("node", "").strip()
    branch = posted.get("branch", type=int)
    new_key = posted.get("new_key", "").strip()
    when = posted.get("when", "").strip()
    if action == "add_step":
        label = {"zh": posted.get("new_label_zh", "").strip() or new_key}
        label["en"] = posted.get("new_label_en", "").strip() or new_key
        kind = posted.get("new_type", "approval")
        return AddStep(Link(node, branch), _key(new_key), kind, label)
    if action == "add_condition":
        return AddCondition(Link(node, branch), _key(new_key), when or "true")
    if action == "add_branch":
        return AddBranch(node, when or "true")
    if action == "branch_when" and branch is not None:
        return SetBranchCondition(node, branch, when)
    if action == "remove_branch" and branch is not None:
        return RemoveBranch(node, branch)
    if action == "remove_step":
        return RemoveStep(node)
    if action == "approvers":
        return SetApprovers(node, parse_rules(posted.get("rules", "")))
    if action == "mode":
        ratio = posted.get("ratio", type=float)
        return SetDecisionMode(node, posted.get("mode", "sequential"), ratio)
    if action == "fields":
        permissions = {
            key.removeprefix("perm_"): value
            for key, value in posted.items()
            if key.startswith("perm_") and value in PERMISSIONS
        }
        return SetFieldPermissions(node, permissions)
    return _more_operation(action, node, posted)


def _more_operation(action: str, node: str, posted: Any) -> FlowOperation:
    """The edits of parallel lanes, clocks, actions and rejections."""
    new_key = posted.get("new_key", "").strip()
    if action == "add_parallel":
        lanes = (
            _key(posted.get("lane_a", "").strip() or f"{new_key}_a"),
            _key(posted.get("lane_b", "").strip() or f"{new_key}_b"),
        )
        join = posted.get("join", "all")
        return AddParallel(Link(node, posted.get("branch", type=int)), _key(new_key), lanes, join)
    if action == "add_lane_step":
        lane = posted.get("lane", type=int)
        if lane is None:
            raise ValueError(_("Unknown designer action."))
        kind = posted.get("new_type", "approval")
        label = {"zh": posted.get("new_label_zh", "").strip() or new_key}
        label["en"] = posted.get("new_label_en", "").strip() or new_key
        return AddLaneStep(node, lane, _key(new_key), kind, label)
    if action == "join":
        return SetJoin(node, posted.get("join", "all"))
    if action == "timeout":
        return SetTimeout(
            node,
            _hours(posted, "remind_after_hours"),
            _hours(posted, "after_hours"),
            posted.get("timeout_action") or None,
        )
    if action == "actions":
        slot = posted.get("slot", "")
        return SetActions(node, slot, parse_actions(posted.get("actions", "")))
    if action == "reject_to":
        return SetRejectTo(node, posted.getlist("reject_to"))
    raise ValueError(_("Unknown designer action."))


def _hours(posted: Any, name: str) -> float | None:
    text = posted.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(_("Hours are a number, such as 24 or 1.5.")) from None


def _key(text: str) -> str:
    if not text or not text.replace("_", "a").isalnum() or not text[0].isalpha():
        raise ValueError(_("A key is lower-case letters, digits and _, starting with a letter."))
    return text.lower()
