"""Notifications: what people are told, in the app and on outside channels.

A notification is written in the unit of work of what caused it (a task opened, a request
decided, an automation's ``notify`` action), so it exists exactly when its cause committed.
Outside channels (e-mail when SMTP is configured, and those plugins add through
``formflow_notification_channels``) get it after the commit, from a background job retried
with back-off; each channel is sent a notification once. This package imports no Flask.
"""

from formflow.notifications.model import Channel, Notification, Recipient
from formflow.notifications.service import Notifications, UnknownNotification

__all__ = ["Channel", "Notification", "Notifications", "Recipient", "UnknownNotification"]
