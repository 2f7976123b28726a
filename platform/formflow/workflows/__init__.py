"""Approval workflows: the compiled definition (:mod:`.model`) and the engine that runs it
(:mod:`.service`), over the record service's units of work.

This package's ``__init__`` imports nothing, so the definition model can name
:class:`~formflow.workflows.model.Workflow` without pulling in the engine.
"""
