"""Import and export: files in and out of any form, through the record service.

:mod:`~formflow.transfer.exporting` writes a list (its filters, search and order) as CSV or
XLSX; :mod:`~formflow.transfer.importing` reads CSV or XLSX into a form, with the column
mapping of :mod:`~formflow.transfer.mapping`, duplicates, links by title, subtable rows,
all-or-nothing or row-by-row, and the error report of :mod:`~formflow.transfer.report`.
:mod:`~formflow.transfer.runs` runs a large import as a background job. Nothing here
imports Flask: pages, the API and the CLI are thin layers over these functions.
"""
