"""The workflow designer's edits and its simulation: the clicks on the drawn flow.

Routes on the designer's blueprint. Each posted form names one edit of the flow (a step added
at a "+", a branch, the people of a step, its decision mode, its field permissions) and
becomes one :mod:`formflow.designer.flow_edits` operation, saved to the draft at once; the
page is drawn again with the compiler's errors, which block publishing until fixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml
from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from formflow.definitions.source import SourceError
from formflow.designer import Designer
from formflow.designer.documents import DocumentError
from formflow.designer.drafts import DraftConflict
from formflow.designer.flow_edits import (
    PERMISSIONS,
    AddBranch,
    AddCondition,
    AddStep,
    FlowOperation,
    Link,
    RemoveBranch,
    RemoveStep,
    SetApprovers,
    SetBranchCondition,
    SetDecisionMode,
    SetFieldPermissions,
)
from formflow.designer.simulate import Simulation
from formflow.errors import DefinitionErrors, FormflowError
from formflow.web import context
from formflow.web.designer_pages import _document_file, _draft, _read, blueprint, designer
from formflow.web.ids import parse_id


def rule_line(rule: Mapping[str, Any]) -> str:
    """An approver rule as one line of the rules box: ``role: finance``."""
    return ", ".join(
        f"{key}: [{', '.join(map(str, value))}]" if isinstance(value, list) else f"{key}: {value}"
        for key, value in rule.items()
    )


def parse_rules(text: str) -> list[dict[str, Any]]:
    """The rules box, one rule a line in YAML's flow words (``manager: submitter, levels: 2``)."""
    rules: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rule = yaml.safe_load(line if line.startswith("{") else "{" + line + "}")
        except yaml.YAMLError as exc:
            raise ValueError(_("This rule does not read: %(rule)s", rule=line)) from exc
        if not isinstance(rule, dict):
            raise ValueError(_("This rule does not read: %(rule)s", rule=line))
        rules.append(rule)
    if not rules:
        raise ValueError(_("A step needs at least one rule to find its people."))
    return rules


def flow_page_context(service: Designer, app_key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What the workflow page shows beside the tree: the form's fields (for permissions
    and the sample record), the nodes' settings by key, the simulation asked for, undo."""
    fields: list[tuple[str, Any]] = []
    simulation: Simulation | None = None
    problem = None
    try:
        app = service.compile(service.draft(app_key).texts())
        form = app.forms.get(str(data.get("form")))
        fields = [(field.key, field.label) for field in form.fields] if form else []
        if request.args.get("simulate"):
            simulation = _simulation(service, app_key, str(data.get("key")))
    except DefinitionErrors:
        pass
    except (FormflowError, ValueError, KeyError) as exc:
        problem = str(exc)
    nodes = {
        str(node["key"]): node
        for node in data.get("nodes", [])
        if isinstance(node, Mapping) and "key" in node
    }
    used = json.dumps(data, ensure_ascii=False, default=str)
    return {
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
    service = designer()
    draft = _draft(service, app_key)
    path = _document_file(draft, "workflows", workflow_key)
    revision = request.form.get("revision", type=int) or 0
    try:
        _read(path, draft.files[path].text)
        operation = _operation(request.form)
        service.apply(app_key, path, revision, [operation], context.user().id)
    except DraftConflict:
        flash(_("Someone saved this file after you opened it; the page now shows their version."))
    except SourceError:
        flash(_("Fix the YAML first: the visual designer waits until it reads again."), "error")
    except (DocumentError, ValueError) as exc:
        flash(str(exc), "error")
    return redirect(url_for(".workflow", app_key=app_key, workflow_key=workflow_key))


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
    raise ValueError(_("Unknown designer action."))


def _key(text: str) -> str:
    if not text or not text.replace("_", "a").isalnum() or not text[0].isalpha():
        raise ValueError(_("A key is lower-case letters, digits and _, starting with a letter."))
    return text.lower()
