"""Helpers shared by the test tiers: real servers and factories."""
