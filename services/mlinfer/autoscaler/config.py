"""Per-model policy overrides: a YAML file (the operator's) and config.pbtxt parameters (the
model author's). The operator wins: defaults < ``autoscaler_*`` parameters < YAML.

YAML shape::

    defaults: {cooldown_up_s: 60, cooldown_down_s: 300}
    models:
      image_cnn: {min_instances: 1, max_instances: 3, queue_time_target_us: 5000}

In config.pbtxt the same fields carry an ``autoscaler_`` prefix::

    parameters { key: "autoscaler_max_instances" value { string_value: "3" } }
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mlinfer.autoscaler.policy import PolicyConfig

PARAMETER_PREFIX = "autoscaler_"
_FIELDS = {f.name: f for f in dataclasses.fields(PolicyConfig)}


class AutoscalerConfigError(ValueError):
    """A configuration that cannot work; raised at start, naming what is wrong."""


def apply(base: PolicyConfig, values: Mapping[str, Any], where: str) -> PolicyConfig:
    """``base`` with ``values`` (field -> value) applied; unknown fields are an error."""
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise AutoscalerConfigError(
            f"{where}: unknown autoscaler setting(s) {unknown}; known: {sorted(_FIELDS)}"
        )
    converted: dict[str, Any] = {}
    for key, raw in values.items():
        integer = isinstance(getattr(base, key), int)
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = float("nan")
        if number != number or (integer and not number.is_integer()):
            kind = "an integer" if integer else "a number"
            raise AutoscalerConfigError(f"{where}: {key} must be {kind}, got {raw!r}")
        converted[key] = int(number) if integer else number
    return dataclasses.replace(base, **converted)


def from_model_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """``autoscaler_*`` entries of a model config's parameters (its JSON form, as served)."""
    out: dict[str, str] = {}
    for key, value in parameters.items():
        if key.startswith(PARAMETER_PREFIX):
            text = value.get("string_value", "") if isinstance(value, Mapping) else value
            out[key[len(PARAMETER_PREFIX) :]] = str(text)
    return out


def load_overrides(path: Path | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(defaults, per-model) from the YAML file; both empty without a file."""
    if path is None:
        return {}, {}
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise AutoscalerConfigError(f"cannot read autoscaler config {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise AutoscalerConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or set(doc) - {"defaults", "models"}:
        raise AutoscalerConfigError(f"{path}: top level must be a mapping of 'defaults', 'models'")
    defaults, models = doc.get("defaults") or {}, doc.get("models") or {}
    if not isinstance(defaults, dict) or not isinstance(models, dict):
        raise AutoscalerConfigError(f"{path}: 'defaults' and 'models' must be mappings")
    for name, values in models.items():
        if not isinstance(values, dict):
            raise AutoscalerConfigError(f"{path}: models.{name} must be a mapping")
    return defaults, {str(k): v for k, v in models.items()}


def resolve(
    base: PolicyConfig,
    defaults: Mapping[str, Any],
    per_model: Mapping[str, Mapping[str, Any]],
    model_parameters: Mapping[str, Mapping[str, str]],
    served: Iterable[str],
) -> tuple[PolicyConfig, dict[str, PolicyConfig]]:
    """The default config and one per managed model, validated; unknown models are an error."""
    served = set(served)
    unknown = sorted(set(per_model) - served)
    if unknown:
        raise AutoscalerConfigError(
            f"autoscaler config names model(s) the server does not have: {unknown} "
            f"(served: {sorted(served)})"
        )
    default = apply(base, defaults, "defaults")
    configs: dict[str, PolicyConfig] = {}
    for model in sorted(set(model_parameters) | set(per_model)):
        config = apply(default, model_parameters.get(model, {}), f"{model} config.pbtxt")
        config = apply(config, per_model.get(model, {}), f"models.{model}")
        configs[model] = config
    try:
        default.validate("defaults")
        for model, config in configs.items():
            config.validate(model)
    except ValueError as exc:
        raise AutoscalerConfigError(str(exc)) from None
    return default, configs
