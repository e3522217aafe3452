"""Use cases: each service orchestrates ports, enforces the rules, and raises domain errors."""
