"""The delivery-receipt callback: providers post what became of each message sent.

``POST /plugins/sms/receipts?token=<receipt_token>`` with a JSON object or a list of them.
Each is either Alibaba Cloud's ``SmsReport`` push (``biz_id``, ``success``, ``err_code``,
``err_msg``) or the generic shape (``id``, ``status`` ``delivered`` or ``failed``,
``reason``). The answer is ``{"code": 0, "msg": "成功"}``, as Alibaba Cloud expects.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from formflow.plugin_kit import current_instance, public, settings_of
from formflow.web.extensions import csrf
from formflow_sms.blasts import Blasts
from formflow_sms.pages import attach

blueprint = Blueprint("sms", __name__)


def _receipt(item: Mapping[str, Any]) -> tuple[str, bool, str]:
    if "biz_id" in item:
        delivered = bool(item.get("success"))
        reason = f"{item.get('err_code', '')} {item.get('err_msg', '')}".strip()
        return str(item["biz_id"]), delivered, reason
    return str(item.get("id", "")), item.get("status") == "delivered", str(item.get("reason", ""))


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
        provider_id, delivered, reason = _receipt(item)
        if provider_id:
            blasts.receipt(provider_id, delivered, reason)
    return jsonify(code=0, msg="成功")


csrf.exempt(receipts)  # a provider's callback, checked by its token; the pages keep CSRF
attach(blueprint)
