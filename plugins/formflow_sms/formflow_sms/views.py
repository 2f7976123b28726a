"""The routes anyone may reach: providers' delivery receipts, and unsubscribe links.

``POST /plugins/sms/receipts?token=<receipt_token>`` with a JSON object or a list of them.
Each is either Alibaba Cloud's ``SmsReport`` push (``biz_id``, ``success``, ``err_code``,
``err_msg``) or the generic shape (``id``, ``status`` ``delivered``, ``failed`` or
``bounced``, ``reason``); an e-mail's ``id`` is its Message-ID, so a mail service's bounce
notices come here too. The answer is ``{"code": 0, "msg": "成功"}``, as Alibaba Cloud
expects.

``/plugins/sms/unsubscribe/<token>``: the link every blast e-mail carries. Opening it asks
for a confirmation; posting it (the page's button, or a mail program's one-click
``List-Unsubscribe-Post``) unsubscribes the recipient at once.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from formflow.plugin_kit import current_instance, public, settings_of
from formflow.web.extensions import csrf
from formflow_sms.blasts import Blasts
from formflow_sms.pages import attach
from formflow_sms.unsubscribe import BadUnsubscribeLink, read_link
from formflow_sms.unsubscribe import unsubscribe as unsubscribe_from

blueprint = Blueprint("sms", __name__)


def _receipt(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """The provider id, ``delivered``, ``failed`` or ``bounced``, and the reason."""
    if "biz_id" in item:
        status = "delivered" if item.get("success") else "failed"
        reason = f"{item.get('err_code', '')} {item.get('err_msg', '')}".strip()
        return str(item["biz_id"]), status, reason
    status = str(item.get("status", ""))
    return str(item.get("id", "")), status, str(item.get("reason", ""))


@blueprint.post("/receipts")
@public
def receipts() -> Response:
    instance = current_instance()
    values = settings_of("sms", instance)
    token = values.get("receipt_token", "")
    if not token or not hmac.compare_digest(request.args.get("token", ""), token):
        abort(403)
    payload = request.get_json(silent=True)
    found = payload if isinstance(payload, list) else [payload]
    items = [item for item in found if isinstance(item, Mapping)]
    if len(items) != len(found):
        abort(400)
    blasts = Blasts(instance.engine)
    for item in items:
        provider_id, status, reason = _receipt(item)
        if provider_id:
            blasts.receipt(provider_id, status == "delivered", reason, bounced=status == "bounced")
    return jsonify(code=0, msg="成功")


@blueprint.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
def unsubscribe(token: str) -> Any:
    instance = current_instance()
    try:
        subscription = read_link(instance, token)
    except BadUnsubscribeLink:
        abort(404)
    if request.method == "GET":
        return render_template("sms/unsubscribe.html", done=False)
    values = settings_of("sms", instance)
    opt_out = values.get("email_opt_out_field") or "email_opt_out"
    unsubscribe_from(instance, subscription, opt_out)
    if request.form.get("List-Unsubscribe") == "One-Click":
        return Response("unsubscribed\n", mimetype="text/plain")
    return render_template("sms/unsubscribe.html", done=True)


csrf.exempt(receipts)  # a provider's callback, checked by its token; the pages keep CSRF
csrf.exempt(unsubscribe)  # mail programs post it; the signed token is the check
attach(blueprint)
