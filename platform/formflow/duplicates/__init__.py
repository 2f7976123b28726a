"""Duplicate checks (查重): values of different records that name the same party.

An app declares ``duplicate_checks`` in app.yaml; each compares fields of one or more
forms after a normaliser (:mod:`formflow.duplicates.normalisers`). The record service keeps
each record's normalised keys in ``ff_duplicate_keys`` in the same unit of work as the
write (:mod:`formflow.duplicates.keys`), so finding a match is one indexed lookup however
many records there are.
"""
