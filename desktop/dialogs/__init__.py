"""Dialogs of the teller desktop."""
