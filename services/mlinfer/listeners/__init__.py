"""How the REST and gRPC listeners are set up: TLS files, gRPC message bounds and keepalive.

Plain configuration, below the transports so that the assembled Settings can hold it.
"""
