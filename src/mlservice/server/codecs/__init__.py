"""Wire formats: V2 JSON and binary tensors, V1 bodies, raw payloads; numpy on the inside."""
