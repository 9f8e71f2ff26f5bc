"""gRPC server: ``inference.GRPCInferenceService`` as Triton speaks it, on the DataPlane."""
