"""V2 (Open Inference Protocol) over gRPC: a thin servicer over the protocol-agnostic data plane."""
