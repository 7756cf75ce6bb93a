"""The model server behind `mls serve`: a protocol-agnostic data plane with thin REST (and gRPC)
adapters, model formats, adaptive batching, workers and metrics. See docs/architecture.md."""
