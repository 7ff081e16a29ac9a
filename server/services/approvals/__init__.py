"""Maker-checker: policies, the gate covered requests pass, decisions and execution."""
