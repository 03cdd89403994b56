"""Inbound e-mail: parsing that never crashes, machine-mail filters, advisory records."""
