"""Background jobs: the embedded worker loop and the task bodies it runs."""
