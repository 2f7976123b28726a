"""The audit log: who did what, when and from where, in a hash chain that shows tampering.

- :func:`log` appends an entry in the transaction of the act it records; :func:`acting`
  says once per request or command who acts and from where.
- :func:`verify` walks the chain and reports the first edited, deleted or inserted entry.
- :func:`search` pages through it newest first; :func:`matching` and :func:`csv_lines`
  stream it out.

Nothing here updates or deletes an entry, and nothing in the app does.
"""

from formflow.audit.actions import Action
from formflow.audit.chain import Entry, Origin, acting, head, log, origin
from formflow.audit.search import AuditPage, AuditQuery, Found, csv_lines, matching, search
from formflow.audit.verify import Break, Verdict, verify

__all__ = [
    "Action",
    "AuditPage",
    "AuditQuery",
    "Break",
    "Entry",
    "Found",
    "Origin",
    "Verdict",
    "acting",
    "csv_lines",
    "head",
    "log",
    "matching",
    "origin",
    "search",
    "verify",
]
