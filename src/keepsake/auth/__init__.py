"""Accounts, sessions, API keys and the access checks every service starts with."""
