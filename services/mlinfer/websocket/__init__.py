"""WebSocket streaming inference: ``/v2/models/{model}[/versions/{v}]/infer/ws`` (tensor
frames) and ``.../infer/image/ws`` (JPEG/PNG frames), served on the REST listener.

A stream is authorized at the handshake and pinned to one model version for its life;
each frame is then one inference through the DataPlane, with the same scopes, rate limits,
admission, access log and metrics as a REST request.
"""
