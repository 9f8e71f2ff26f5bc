"""What can go wrong while optimizing, each error saying what to fix.

All are :class:`~mlinfer.core.errors.MLInferError` so the CLI prints one clean line and the
registry (which may run the optimizer) maps them like any other error.
"""

from __future__ import annotations

from mlinfer.core.errors import InvalidInputError, MLInferError, UnsupportedError


class OptimizerError(MLInferError):
    """Base of the optimizer's errors."""


class ConfigError(InvalidInputError):
    """optimization_config.yaml or a flag is invalid; the message names the key."""


class ModelCheckError(InvalidInputError):
    """The ONNX file is not a valid model (onnx.checker's reason is in the message)."""


class UnsupportedOpError(UnsupportedError):
    """A node the target cannot run: the message names the op type, domain and node."""

    def __init__(self, op_type: str, node: str, target: str, detail: str = "") -> None:
        extra = f": {detail}" if detail else ""
        super().__init__(f"node '{node}' uses op {op_type}, which {target} cannot run{extra}")
        self.op_type = op_type
        self.node = node


class DataError(InvalidInputError):
    """Calibration or validation data that does not fit the model's inputs."""


class TooFewSamplesError(DataError):
    def __init__(self, purpose: str, have: int, need: int, source: str) -> None:
        super().__init__(
            f"{purpose} data '{source}' has {have} samples; at least {need} are needed "
            f"(lower the sample count or add data)"
        )
        self.have = have
        self.need = need


class BudgetExceededError(OptimizerError):
    """No candidate met the accuracy budget: nothing was published."""


class EngineMismatchError(OptimizerError):
    """A cached engine was built for another TensorRT, CUDA, device or input: never load it."""


class ToolUnavailableError(UnsupportedError):
    """The requested target needs a tool that is not installed (TensorRT, trtexec)."""
