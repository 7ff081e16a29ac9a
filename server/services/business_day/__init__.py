"""The business day: its close, the sealed and chained end-of-day reports, `verify`."""
