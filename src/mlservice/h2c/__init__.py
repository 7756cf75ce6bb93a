"""HTTP/2 cleartext for gRPC, shared by the gateway's proxy and `mls serve`'s server: a narrow
sans-IO codec (`codec.py`) and the events it reports (`events.py`), one connection's sending
side (`peer.py`), gRPC's wire facts (`grpcwire.py`)."""
