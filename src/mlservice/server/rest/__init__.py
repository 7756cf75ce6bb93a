"""The REST edge: thin V1 and V2 adapters over the data plane, on bare Starlette."""
