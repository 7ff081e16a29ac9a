"""The bank's rules. Routes call these; only these change the database."""
