"""The teller desktop (PySide6): talks to the server over HTTP only."""
