"""Bulk import and export of files: the runs behind `assetry import` and `assetry export`.

A run talks to an AssetClient (ports.py): over HTTP to a running server (http.py) or
in-process to a local data directory (local.py). What to send, what to skip and how files
are named is decided in assetry.domain.bulk, without I/O.
"""
