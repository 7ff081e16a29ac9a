"""The administration panel (admins) and the statistics panel (tellers and admins)."""

from desktop.admin.panel import AdminPanel, AuditView, UsersView
from desktop.admin.stats import StatsPanel

__all__ = ["AdminPanel", "AuditView", "StatsPanel", "UsersView"]
