"""The record service: the one place records are read and written."""
