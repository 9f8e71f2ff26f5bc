"""Which models use the response cache: opt-in per model, as in Triton.

Caching is only correct for deterministic models, which only the model's author knows, so it
is never on by default. A model opts in with Triton's own field::

    response_cache { enable: true }

or, for configs shared with tools that do not know that field, with a parameter::

    parameters { key: "response_cache" value { string_value: "true" } }

When both are present the ``response_cache`` field decides.
"""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import ModelLoadError

CACHE_PARAMETER = "response_cache"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def cache_enabled(config: mc.ModelConfig) -> bool:
    """Whether ``config`` opts into response caching; a malformed parameter is a load error."""
    if config.HasField("response_cache"):
        return bool(config.response_cache.enable)
    if CACHE_PARAMETER not in config.parameters:
        return False
    raw = str(config.parameters[CACHE_PARAMETER].string_value)
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ModelLoadError(
        f"model '{config.name}': parameter '{CACHE_PARAMETER}' must be 'true' or 'false', "
        f"got '{raw}'"
    )
