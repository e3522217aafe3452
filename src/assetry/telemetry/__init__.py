"""Telemetry: the service's metrics in Prometheus' data model (prometheus_client), and the
directory the worker processes of one `assetry serve` share them through."""
