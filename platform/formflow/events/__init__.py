"""What happened to records, recorded with the change and handed on to whoever reacts.

Every committed write appends an :class:`~formflow.events.outbox.Event` to the outbox in the
same transaction as the write itself, so an event exists exactly when its change does. A
:class:`~formflow.events.relay.Relay` then hands each event to every subscriber, in order and
at least once; a subscriber makes a repeat harmless with the idempotency key it is given.
Plugins' after-hooks, and later workflows and automations, are subscribers.
"""

from formflow.events.outbox import Event, EventKind, Outbox
from formflow.events.relay import BatchSubscriber, Relay, Subscriber

__all__ = ["BatchSubscriber", "Event", "EventKind", "Outbox", "Relay", "Subscriber"]
