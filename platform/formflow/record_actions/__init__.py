"""Record actions: buttons a form defines beyond edit and delete, and the pools they claim from.

The compiled shape is in :mod:`.model`; :mod:`.service` lists and runs them as the acting
user, checking their condition, inputs and limits; :mod:`.ledger` keeps the runs that the
limits count and the cool-downs of records returned to a pool.
"""
