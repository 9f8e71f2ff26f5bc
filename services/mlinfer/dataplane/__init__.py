"""The DataPlane: one inference pipeline shared by every transport (see :mod:`.plane`)."""

from mlinfer.dataplane.plane import CACHE_HIT_PARAMETER, EXTENSIONS, SERVER_NAME, DataPlane

__all__ = ["CACHE_HIT_PARAMETER", "EXTENSIONS", "SERVER_NAME", "DataPlane"]
