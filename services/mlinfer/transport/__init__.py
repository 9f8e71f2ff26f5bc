"""What every transport (REST, gRPC, WebSocket) does the same way around a request.

Who may call (:mod:`.policy`), which models a caller sees (:mod:`.visibility`), the
access-log line (:mod:`.access_log`) and the last resort for an unexpected exception
(:mod:`.failures`); request parameters are read by :mod:`mlinfer.core.parameters`, which
the gRPC messages in the bottom layer share. Transports only translate their wire format
to these calls; none of them imports another transport.
"""
