"""What every transport (REST, gRPC, WebSocket) does the same way around a request.

Who may call (:mod:`.policy`), which models a caller sees (:mod:`.visibility`), the
access-log line (:mod:`.access_log`), request parameters (:mod:`.parameters`) and the
last resort for an unexpected exception (:mod:`.failures`). Transports only translate
their wire format to these calls; none of them imports another transport.
"""
