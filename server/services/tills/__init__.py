"""Tills, the vault and teller sessions."""
