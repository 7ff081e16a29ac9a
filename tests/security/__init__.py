"""Security suite: the OWASP API Security Top 10 (2023) mapped onto this API."""
