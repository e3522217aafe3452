"""The SSRF-safe HTTP fetcher behind URL imports, and the address policy it enforces."""
