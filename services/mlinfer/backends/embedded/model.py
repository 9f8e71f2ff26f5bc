"""One loaded model version on the embedded engine: sessions, scheduler, statistics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from opentelemetry import trace
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb

from mlinfer.backends.embedded.session import (
    ModelInputError,
    Session,
    instance_factory,
    open_sessions,
)
from mlinfer.batching.queue import PendingRequest, PriorityQueue, ShapeKey
from mlinfer.batching.scheduler import BatchingPolicy, Scheduler
from mlinfer.core import datatypes
from mlinfer.core.classification import classify
from mlinfer.core.errors import (
    InvalidInputError,
    MLInferError,
    ModelNotReadyError,
    UnavailableError,
)
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.stats import ExecutionTiming, ModelStats
from mlinfer.core.types import InferRequest, InferResponse, Tensor
from mlinfer.observability.tracing import record_span, wall_ns

log = logging.getLogger(__name__)


class LoadedVersion:
    """Created by :meth:`load` (blocking: call it off the event loop), then :meth:`start`."""

    def __init__(
        self,
        spec: ModelSpec,
        version: int,
        sessions: Sequence[Session],
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.spec = spec
        self._tracer = tracer or trace.NoOpTracer()
        self.version = version
        self.stats = ModelStats(spec.name, str(version))
        self._sessions = list(sessions)
        self._output_names = [o.name for o in spec.outputs]
        self._input_reshape = {
            t.name: tuple(int(d) for d in t.reshape.shape)
            for t in spec.config.input
            if t.HasField("reshape")
        }
        self._output_dims = {t.name: tuple(int(d) for d in t.dims) for t in spec.config.output}
        self._scheduler: Scheduler | None = None
        self._new_session: Callable[[int], Session] | None = None

    @classmethod
    def load(
        cls,
        spec_for: Any,
        config: mc.ModelConfig,
        version: int,
        model_path: Path,
        default_providers: Sequence[str],
        intra_op_threads: int,
        tracer: trace.Tracer | None = None,
    ) -> LoadedVersion:
        """Open one session per instance (the runtime checks config vs model), warm up."""
        sessions = open_sessions(config, model_path, default_providers, intra_op_threads)
        loaded = cls(spec_for(config), version, sessions, tracer)
        try:
            loaded.warm_up()
        except BaseException:
            loaded.close()
            raise
        # Instances added at run time go round the configured placements (CPU, GPUs).
        loaded._new_session = instance_factory(
            config, model_path, default_providers, intra_op_threads
        )
        return loaded

    @property
    def label(self) -> str:
        return f"{self.spec.name}:{self.version}"

    @property
    def pending(self) -> int:
        return self._scheduler.pending if self._scheduler else 0

    def start(self, inline_max_ns: int = 0) -> None:
        """Start the scheduler; needs the running event loop."""
        config = self.spec.config
        batching = config.dynamic_batching if config.HasField("dynamic_batching") else None
        self._scheduler = Scheduler(
            self.label,
            BatchingPolicy.from_config(config),
            PriorityQueue.from_config(batching),
            len(self._sessions),
            self._run_batch,
            on_dispatch=self._record_queue,
            inline_max_ns=inline_max_ns,
        )
        self._scheduler.start()

    async def stop(self, grace_s: float | None) -> None:
        if self._scheduler is not None:
            await self._scheduler.drain_and_stop(grace_s)
        self.close()

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    async def infer(self, request: InferRequest, batch_size: int) -> InferResponse:
        assert self._scheduler is not None, "start() the model before inferring"
        start = time.monotonic_ns()
        try:
            pending = self._scheduler.submit(request, batch_size, _shape_key(request))
            response: InferResponse = await pending.future
        except (MLInferError, asyncio.CancelledError) as exc:
            self.stats.record_failure(_failure_reason(exc), time.monotonic_ns() - start)
            raise
        self.stats.success.add(time.monotonic_ns() - start)
        self._trace_batch(pending)
        return response

    def _trace_batch(self, pending: PendingRequest) -> None:
        attributes = {"mlinfer.model": self.spec.name, "mlinfer.model_version": str(self.version)}
        record_span(
            self._tracer,
            "batch.queue",
            wall_ns(pending.enqueue_ns),
            wall_ns(pending.dispatch_ns),
            attributes,
        )
        record_span(
            self._tracer,
            "batch.execute",
            wall_ns(pending.dispatch_ns),
            wall_ns(pending.done_ns),
            {
                **attributes,
                "mlinfer.batch_id": pending.batch_id,
                "mlinfer.batch_requests": pending.batch_requests,
                "mlinfer.batch_size": pending.batch_rows,
                "mlinfer.request_rows": pending.batch_size,
            },
        )

    def _record_queue(self, pending: PendingRequest, queued_ns: int) -> None:
        self.stats.queue.add(queued_ns)

    # -- worker thread -------------------------------------------------------------------
    def _run_batch(self, instance: int, batch: Sequence[PendingRequest]) -> list[Any]:
        t0 = time.perf_counter_ns()
        feeds = {
            name: self._feed(name, [p.request for p in batch]) for name in _input_names(batch[0])
        }
        t1 = time.perf_counter_ns()
        try:
            outputs = self._sessions[instance].run(feeds)
        except ModelInputError as exc:
            if len(batch) > 1:
                # One bad request must not fail the others batched with it: run each alone.
                return [self._run_batch(instance, [p])[0] for p in batch]
            return [InvalidInputError(f"model '{self.spec.name}' rejected the input: {exc}")]
        t2 = time.perf_counter_ns()
        results = self._split(batch, outputs)
        t3 = time.perf_counter_ns()
        timing = ExecutionTiming(t1 - t0, t2 - t1, t3 - t2)
        total = sum(p.batch_size for p in batch)
        # Stats live on the loop thread; hand the update over instead of locking.
        self._loop_call(self.stats.record_execution, total, len(batch), timing)
        return results

    def _loop_call(self, fn: Any, *args: Any) -> None:
        assert self._scheduler is not None
        self._scheduler.call_soon(fn, *args)

    def _feed(self, name: str, requests: Sequence[InferRequest]) -> NDArray[Any]:
        parts = [next(t.data for t in r.inputs if t.name == name) for r in requests]
        array = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        reshape = self._input_reshape.get(name)
        if reshape is not None:
            lead = (array.shape[0],) if self.spec.batched else ()
            array = array.reshape(lead + reshape)
        return array

    def _split(self, batch: Sequence[PendingRequest], outputs: Sequence[Any]) -> list[Any]:
        results: list[Any] = []
        offset = 0
        for pending in batch:
            request = pending.request
            try:
                tensors = {
                    name: self._output_tensor(name, value, offset, pending.batch_size)
                    for name, value in zip(self._output_names, outputs, strict=True)
                }
                results.append(
                    InferResponse(
                        request.model_name,
                        str(self.version),
                        self._select_outputs(request, tensors),
                        id=request.id,
                    )
                )
            except MLInferError as exc:
                results.append(exc)
            offset += pending.batch_size
        return results

    def _output_tensor(self, name: str, value: Any, offset: int, size: int) -> Tensor:
        array = np.asarray(value)
        if self.spec.batched:
            array = array[offset : offset + size]  # a view: no copy per request
        if array.dtype == np.object_ or array.dtype.kind == "U":
            array = _strings_to_bytes(array)
        dims = self._output_dims.get(name)
        if dims is not None and -1 not in dims:
            array = array.reshape(((size,) if self.spec.batched else ()) + dims)
        spec = self.spec.output(name)
        datatype = spec.datatype if spec else datatypes.from_numpy(array.dtype).name
        return Tensor(name, datatype, tuple(array.shape), array)

    def _select_outputs(self, request: InferRequest, tensors: dict[str, Tensor]) -> list[Tensor]:
        if request.outputs is None:
            return list(tensors.values())
        selected = []
        for wanted in request.outputs:
            tensor = tensors[wanted.name]
            if wanted.class_count:
                spec = self.spec.output(wanted.name)
                labels = spec.labels if spec else ()
                tensor = classify(tensor, wanted.class_count, labels, self.spec.batched)
            selected.append(tensor)
        return selected

    # -- instances at run time (the autoscaler's actuator) -------------------------------
    @property
    def instances(self) -> int:
        return len(self._sessions)

    async def scale_to(self, count: int) -> None:
        """Add warmed instances or retire the last ones, while requests keep flowing."""
        assert self._scheduler is not None and self._new_session is not None
        while len(self._sessions) < count:
            session = await asyncio.to_thread(self._new_session, len(self._sessions))
            await asyncio.to_thread(self._warm, session)  # before it takes any work
            self._sessions.append(session)
            self._scheduler.add_instance()
        while len(self._sessions) > count:
            await self._scheduler.remove_instance()  # after the batch it runs
            self._sessions.pop().close()
        _set_instance_count(self.spec.config, count)
        log.info("model %s: %d instances", self.label, count)

    def warm_up(self) -> None:
        """Run ``model_warmup`` samples on every instance before the model reports ready."""
        for session in self._sessions:
            self._warm(session)

    def _warm(self, session: Session) -> None:
        config = self.spec.config
        for warmup in config.model_warmup:
            feeds = {}
            for name, data in warmup.inputs.items():
                dtype = datatypes.BY_CONFIG[data.data_type]
                shape = ((warmup.batch_size or 1,) if self.spec.batched else ()) + tuple(
                    int(d) for d in data.dims
                )
                feeds[name] = _warmup_array(dtype, shape, data.random_data)
            for _ in range(max(warmup.count, 1)):
                session.run(feeds)
            log.debug("model %s: warmup '%s' done", self.label, warmup.name)

    def statistics(self) -> pb.ModelStatistics:
        self.stats.pending = self.pending
        return self.stats.to_proto()


def _set_instance_count(config: mc.ModelConfig, count: int) -> None:
    """Record the live count in the served config: the first group takes the difference."""
    groups = config.instance_group
    if not groups:
        groups.add(count=count, kind=mc.ModelInstanceGroup.KIND_CPU)
        return
    others = sum(g.count for g in groups[1:])
    groups[0].count = count - others


def _input_names(pending: PendingRequest) -> list[str]:
    return [t.name for t in pending.request.inputs]


def _shape_key(request: InferRequest) -> ShapeKey:
    # Batch only requests whose per-item shapes match (Triton: no ragged batching).
    return tuple(sorted((t.name, t.datatype, t.shape[1:]) for t in request.inputs))


def _strings_to_bytes(array: NDArray[Any]) -> NDArray[Any]:
    out = np.empty(array.shape, dtype=np.object_)
    out.reshape(-1)[:] = [v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1)]
    return out


def _warmup_array(dtype: datatypes.DataType, shape: tuple[int, ...], random: bool) -> NDArray[Any]:
    if dtype.name == "BYTES":
        out = np.empty(shape, dtype=np.object_)
        out.reshape(-1)[:] = ["0"] * int(np.prod(shape))
        return out
    if not random:
        return np.zeros(shape, dtype=dtype.numpy)
    rng = np.random.default_rng(0)
    if dtype.numpy.kind == "f":
        return rng.random(shape).astype(dtype.numpy)
    if dtype.name == "BOOL":
        return rng.integers(0, 2, shape).astype(np.bool_)
    return rng.integers(0, 2, shape).astype(dtype.numpy)


def _failure_reason(exc: BaseException) -> str:
    """Triton's label for why a request failed (see ``FAILURE_REASONS``)."""
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELED"
    if isinstance(exc, UnavailableError):
        return "REJECTED"  # queue full or the queue timeout expired
    if isinstance(exc, ModelNotReadyError):
        return "OTHER"
    return "BACKEND"
