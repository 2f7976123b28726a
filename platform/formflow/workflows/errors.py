"""What the workflow engine refuses, each with a stable ``code`` the API returns.

Several people acting on one instance at once, a double tap or a retried request end with
one of them carried out and the others told precisely why not (:class:`TaskAlreadyDecided`,
:class:`InstanceMoved`), never with a decision made twice.
"""

from __future__ import annotations

from typing import ClassVar

from formflow.errors import N_, PermissionDenied, RecordError, RecordNotFound


class WorkflowError(RecordError, code="workflow_error"):
    """A workflow request that cannot be carried out as asked."""


class WorkflowConflict(WorkflowError, code="workflow_conflict"):
    """The instance or task is no longer where the request expected it (HTTP 409)."""


class _AboutTask(RecordError):
    """An error about one task, whose ``message`` names it as ``%(task)s``."""

    message: ClassVar[str]

    def __init__(self, task_id: int) -> None:
        super().__init__(self.message, task=task_id)


class _AboutInstance(RecordError):
    """An error about one instance, whose ``message`` names it as ``%(instance)s``."""

    message: ClassVar[str]

    def __init__(self, instance_id: int) -> None:
        super().__init__(self.message, instance=instance_id)


class TaskNotFound(_AboutTask, RecordNotFound, code="task_not_found"):
    message = N_("no task %(task)s")


class InstanceNotFound(_AboutInstance, RecordNotFound, code="instance_not_found"):
    message = N_("no approval %(instance)s")


class NotYourTask(_AboutTask, PermissionDenied, code="not_your_task"):
    message = N_("task %(task)s is not yours to decide")


class SelfApproval(PermissionDenied, code="self_approval"):
    def __init__(self) -> None:
        super().__init__(N_("you may not approve your own request"))


class NotSubmitter(PermissionDenied, code="not_submitter"):
    def __init__(self, what: str) -> None:
        super().__init__(N_("only the submitter may %(what)s"), what=what)


class TaskAlreadyDecided(WorkflowConflict, code="task_decided"):
    def __init__(self, task_id: int, status: str) -> None:
        super().__init__(
            N_("task %(task)s was already settled (%(status)s); nothing was changed"),
            task=task_id,
            status=status,
        )


class InstanceMoved(_AboutInstance, WorkflowConflict, code="instance_moved"):
    """Another step of the same instance won the race, again and again."""

    message = N_("approval %(instance)s moved on while you acted; reload it and try again")


class AlreadySubmitted(WorkflowConflict, code="already_submitted"):
    def __init__(self, record_id: int) -> None:
        super().__init__(N_("record %(id)s already has an approval running"), id=record_id)


class NotRunning(WorkflowConflict, code="not_running"):
    def __init__(self, instance_id: int, status: str) -> None:
        super().__init__(
            N_("approval %(instance)s is %(status)s, so this cannot be done now"),
            instance=instance_id,
            status=status,
        )


class NotSubmittable(WorkflowError, code="not_submittable"):
    pass


class CannotWithdraw(WorkflowError, code="cannot_withdraw"):
    pass


class NoApproverFound(WorkflowError, code="no_approver"):
    def __init__(self, node: str) -> None:
        super().__init__(N_("nobody can approve step '%(node)s'; ask an administrator"), node=node)


class InvalidRejectTarget(WorkflowError, code="invalid_reject_target"):
    def __init__(self, target: str, allowed: str) -> None:
        super().__init__(
            N_("cannot send the request back to '%(target)s' from here (allowed: %(allowed)s)"),
            target=target,
            allowed=allowed,
        )


class InvalidSigner(WorkflowError, code="invalid_signer"):
    pass


class DefinitionGone(WorkflowError, code="definition_gone"):
    def __init__(self, workflow: str, digest: str) -> None:
        super().__init__(
            N_(
                "the version of workflow '%(workflow)s' this approval started on is not stored (%(digest)s)"
            ),
            workflow=workflow,
            digest=digest[:12],
        )


class InvalidDelegation(InvalidSigner, code="invalid_delegation"):
    """A delegation the rules refuse: to oneself, to someone inactive, in a circle, or for
    a range that ends before it starts."""


class DelegationNotFound(RecordNotFound, code="delegation_not_found"):
    def __init__(self, delegation_id: int) -> None:
        super().__init__(N_("no delegation %(delegation)s"), delegation=delegation_id)
        self.delegation_id = delegation_id
