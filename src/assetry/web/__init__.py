"""The HTTP edge: parse requests, call a service, shape the response."""
