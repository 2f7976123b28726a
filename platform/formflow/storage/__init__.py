"""Storage: tables from the compiled model, migrations between definition versions."""
