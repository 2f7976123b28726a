"""Automations: rules in YAML that act on records when something happens or time comes."""
