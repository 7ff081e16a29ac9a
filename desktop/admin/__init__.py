"""The administration panel (admins) and the statistics panel (tellers and admins)."""

from desktop.admin.audit_view import AuditView
from desktop.admin.panel import AdminPanel
from desktop.admin.stats import StatsPanel
from desktop.admin.users_view import UsersView

__all__ = ["AdminPanel", "AuditView", "StatsPanel", "UsersView"]
