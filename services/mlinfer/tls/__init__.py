"""TLS for the listeners (REST and gRPC): certificate and key files."""
