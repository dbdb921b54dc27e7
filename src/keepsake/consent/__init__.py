"""Consent per purpose, the data-use ledger, retention, takeout and account deletion: what
lets each user decide what happens to their photos and face data, see every use, and leave."""
