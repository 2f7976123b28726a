"""The actions the audit log knows, one word each, grouped by a dotted family."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in.failed"
    SIGN_OUT = "sign_out"
    RECORD_CREATE = "record.create"
    RECORD_UPDATE = "record.update"
    RECORD_DELETE = "record.delete"
    RECORD_RESTORE = "record.restore"
    APPROVAL = "approval."
    """A family: ``approval.approve``, ``approval.reject``, ``approval.submit``…"""
    DEFINITION_PUBLISH = "definition.publish"
    IMPORT = "import"
    EXPORT = "export"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_PASSWORD = "user.password"
    USER_ROLES = "user.roles"
    DEPARTMENT_CREATE = "department.create"
    DEPARTMENT_UPDATE = "department.update"
    ADDRESS_RULE_ADD = "address_rule.add"
    ADDRESS_RULE_REMOVE = "address_rule.remove"
    SECOND_FACTOR_ON = "second_factor.on"
    SECOND_FACTOR_OFF = "second_factor.off"
    RECOVERY_CODES_NEW = "second_factor.recovery_codes"
    BACKUP = "backup"
    RESTORE = "restore"
