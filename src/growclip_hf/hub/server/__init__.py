"""A local Hub-compatible HTTP server that stores each repository as a bare git repository."""
