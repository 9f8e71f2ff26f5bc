"""Start, watch and stop the ``tritonserver`` binary bundled in the nvidia-pytriton wheel.

The wheel ships a Triton 2.51 with only the Python backend. What it takes to run it from a
virtualenv (found by experiment, see ``prepare_backend_directory`` and ``triton_environment``):

* the binary is ``<site-packages>/pytriton/tritonserver/bin/tritonserver``; its RPATH already
  points at ``<site-packages>/nvidia_pytriton.libs`` (hashed copies of libtritonserver, libcudart,
  libb64, curl, ...), we add that folder to ``LD_LIBRARY_PATH`` anyway for the backend stub;
* ``--backend-directory`` must hold ``python/libtriton_python.so``,
  ``python/triton_python_backend_utils.py`` *and* ``python/triton_python_backend_stub``; the wheel
  keeps stubs per Python version under ``pytriton/tritonserver/python_backend_stubs/<X.Y>/``, so
  we assemble a backend folder of symlinks in a cache directory (site-packages is left alone);
* the stub embeds ``libpython<X.Y>.so`` and finds its ``sys.prefix`` by looking up ``python3`` on
  ``PATH``: the running interpreter's bin directory goes first on ``PATH`` so that models see the
  virtualenv's site-packages (numpy, onnxruntime), and the interpreter's ``LIBDIR`` is added to
  ``LD_LIBRARY_PATH`` so that the stub loads the matching libpython;
* each server gets its own Python-backend shared-memory prefix (``/dev/shm``) so that several
  servers can run side by side; regions left behind by a killed server are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

ModelControlMode = Literal["none", "explicit", "poll"]

_MODEL_CONTROL_MODES: tuple[str, ...] = ("none", "explicit", "poll")
_STUB_NAME = "triton_python_backend_stub"
_SHM_DIR = Path("/dev/shm")
_LOCALHOST = "127.0.0.1"


class TritonNotFoundError(RuntimeError):
    """The nvidia-pytriton wheel (and so the ``tritonserver`` binary) is not installed."""


class TritonStartError(RuntimeError):
    """``tritonserver`` exited, or did not become ready in time."""


@dataclass(frozen=True)
class TritonDistribution:
    """Where the pieces of the Triton shipped in nvidia-pytriton live."""

    root: Path
    """``<site-packages>/pytriton/tritonserver``."""
    binary: Path
    backends_dir: Path
    caches_dir: Path | None
    lib_dirs: tuple[Path, ...]
    """``nvidia_pytriton.libs`` and ``pytriton/tritonserver/lib`` (those present)."""
    stubs_dir: Path

    def python_stub(self, python_version: str | None = None) -> Path:
        """The Python backend stub built for ``python_version`` ("3.11"; default: running one)."""
        version = python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
        stub = self.stubs_dir / version / _STUB_NAME
        if not stub.is_file():
            shipped = sorted(p.name for p in self.stubs_dir.iterdir() if (p / _STUB_NAME).is_file())
            raise TritonNotFoundError(
                f"no {_STUB_NAME} for Python {version} in {self.stubs_dir} (shipped: {shipped})"
            )
        return stub


def pytriton_package_dir() -> Path | None:
    """The installed ``pytriton`` package folder, found without importing it."""
    try:
        spec = importlib.util.find_spec("pytriton")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_triton_distribution() -> TritonDistribution:
    """Locate the Triton bundled in nvidia-pytriton; raise ``TritonNotFoundError`` if absent."""
    pytriton_dir = pytriton_package_dir()
    if pytriton_dir is None:
        raise TritonNotFoundError("nvidia-pytriton is not installed (no 'pytriton' package)")
    root = pytriton_dir / "tritonserver"
    binary = root / "bin" / "tritonserver"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise TritonNotFoundError(f"tritonserver binary not found at {binary}")
    lib_dirs: list[Path] = []
    # A wheel install keeps the vendored libraries next to the package; an editable install of
    # pytriton keeps them in tritonserver/external_libs.
    for candidate in (
        pytriton_dir.parent / "nvidia_pytriton.libs",
        root / "external_libs",
        root / "lib",
    ):
        if candidate.is_dir():
            lib_dirs.append(candidate)
    caches_dir = root / "caches"
    return TritonDistribution(
        root=root,
        binary=binary,
        backends_dir=root / "backends",
        caches_dir=caches_dir if caches_dir.is_dir() else None,
        lib_dirs=tuple(lib_dirs),
        stubs_dir=root / "python_backend_stubs",
    )


def tritonserver_binary() -> Path | None:
    """Path of the bundled ``tritonserver``, or None when nvidia-pytriton is not installed."""
    try:
        return find_triton_distribution().binary
    except TritonNotFoundError:
        return None


def default_cache_dir() -> Path:
    """``$MLINFER_TRITON_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlinfer/triton`` (~/.cache)."""
    explicit = os.environ.get("MLINFER_TRITON_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "mlinfer" / "triton"


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        dst.symlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def _backend_dir_complete(backends: Path) -> bool:
    python_dir = backends / "python"
    return all(
        (python_dir / name).is_file()
        for name in ("libtriton_python.so", "triton_python_backend_utils.py", _STUB_NAME)
    )


def prepare_backend_directory(
    distribution: TritonDistribution | None = None,
    cache_dir: Path | None = None,
    python_version: str | None = None,
) -> Path:
    """Return a ``--backend-directory`` whose ``python/`` holds the stub for this Python.

    The folder is made of symlinks (copies where symlinks fail) into the installed wheel, under
    ``cache_dir`` (default ``default_cache_dir()``), keyed by the wheel location and the Python
    version. It is created atomically, so concurrent callers are safe.
    """
    dist = distribution or find_triton_distribution()
    stub = dist.python_stub(python_version)
    stat = stub.stat()
    key_src = f"{dist.root.resolve()}|{stub.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    key = hashlib.sha256(key_src.encode()).hexdigest()[:12]
    version = stub.parent.name
    root = cache_dir or default_cache_dir()
    target = root / f"backends-py{version}-{key}"
    if _backend_dir_complete(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".backends-", dir=root))
    try:
        for entry in sorted(dist.backends_dir.iterdir()):
            if entry.name == "python" and entry.is_dir():
                python_dir = staging / "python"
                python_dir.mkdir()
                for item in sorted(entry.iterdir()):
                    if item.is_file() and item.name != _STUB_NAME:
                        _link_or_copy(item, python_dir / item.name)
                _link_or_copy(stub, python_dir / _STUB_NAME)
            elif not entry.name.startswith((".", "__")):
                _link_or_copy(entry, staging / entry.name)
        if target.exists() and not _backend_dir_complete(target):
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            # Another process won the race; its folder is as good as ours.
            if not _backend_dir_complete(target):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _python_libdir() -> Path | None:
    """Folder holding the running interpreter's ``libpythonX.Y.so.1.0``, if it has one."""
    libdir = sysconfig.get_config_var("LIBDIR")
    soname = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
    if not isinstance(libdir, str) or not isinstance(soname, str):
        return None
    path = Path(libdir)
    return path if (path / soname).exists() else None


def _prepend_path(value: str | None, *entries: str) -> str:
    parts = [e for e in entries if e]
    if value:
        parts.extend(p for p in value.split(os.pathsep) if p and p not in parts)
    return os.pathsep.join(parts)


def triton_environment(
    distribution: TritonDistribution | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for ``tritonserver`` and its Python backend stubs.

    ``LD_LIBRARY_PATH`` gets the wheel's library folders and the interpreter's LIBDIR (for
    libpython); ``PATH`` gets ``dirname(sys.executable)`` first (the stub picks its Python, and so
    its site-packages, from the ``python3`` it finds there).
    """
    dist = distribution or find_triton_distribution()
    env = dict(os.environ if base is None else base)
    lib_entries = [str(p) for p in dist.lib_dirs]
    libpython = _python_libdir()
    if libpython is not None:
        lib_entries.append(str(libpython))
    env["LD_LIBRARY_PATH"] = _prepend_path(env.get("LD_LIBRARY_PATH"), *lib_entries)
    env["PATH"] = _prepend_path(env.get("PATH"), str(Path(sys.executable).parent))
    return env


def free_port(host: str = _LOCALHOST) -> int:
    """A TCP port that is free right now on ``host`` (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int, host: str = _LOCALHOST) -> list[int]:
    """``count`` distinct free ports (all sockets are held until every port is picked)."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_status(url: str, timeout_s: float) -> int | None:
    try:
        with _NO_PROXY_OPENER.open(url, timeout=timeout_s) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


class TritonServerProcess:
    """One ``tritonserver`` child process.

    >>> with TritonServerProcess(repo, model_control_mode="explicit", load_models=["m"]) as srv:
    ...     client = tritonclient.http.InferenceServerClient(srv.http_url)

    Ports left as None are picked with ``free_port()``. Output (stdout and stderr) goes to
    ``log_path`` (a temporary file when None), kept after stop for post-mortems.
    """

    def __init__(
        self,
        model_repository: Path | str,
        http_port: int | None = None,
        grpc_port: int | None = None,
        metrics_port: int | None = None,
        model_control_mode: ModelControlMode = "none",
        load_models: Sequence[str] | None = None,
        log_path: Path | str | None = None,
        *,
        host: str = _LOCALHOST,
        log_verbose: int = 0,
        exit_timeout_s: int = 5,
        repository_poll_s: int = 1,
        startup_timeout_s: float = 120.0,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        distribution: TritonDistribution | None = None,
        backend_directory: Path | None = None,
    ) -> None:
        if model_control_mode not in _MODEL_CONTROL_MODES:
            raise ValueError(
                f"model_control_mode must be one of {_MODEL_CONTROL_MODES}, "
                f"got {model_control_mode!r}"
            )
        if load_models and model_control_mode != "explicit":
            raise ValueError("load_models needs model_control_mode='explicit'")
        self._repository = Path(model_repository)
        picked = iter(free_ports([http_port, grpc_port, metrics_port].count(None), host))
        self._http_port = http_port if http_port is not None else next(picked)
        self._grpc_port = grpc_port if grpc_port is not None else next(picked)
        self._metrics_port = metrics_port if metrics_port is not None else next(picked)
        self._mode: ModelControlMode = model_control_mode
        self._load_models = list(load_models or [])
        self._log_path = Path(log_path) if log_path is not None else None
        self._host = host
        self._log_verbose = log_verbose
        self._exit_timeout_s = exit_timeout_s
        self._repository_poll_s = repository_poll_s
        self.startup_timeout_s = startup_timeout_s
        self._extra_args = list(extra_args)
        self._env_overrides = dict(env or {})
        self._distribution = distribution
        self._backend_directory = backend_directory
        self._shm_prefix = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    # ----------------------------------------------------------------- properties
    @property
    def http_port(self) -> int:
        return self._http_port

    @property
    def grpc_port(self) -> int:
        return self._grpc_port

    @property
    def metrics_port(self) -> int:
        return self._metrics_port

    @property
    def http_url(self) -> str:
        """``host:port`` of the HTTP/REST endpoint (what tritonclient.http expects)."""
        return f"{self._host}:{self._http_port}"

    @property
    def grpc_url(self) -> str:
        """``host:port`` of the gRPC endpoint (what tritonclient.grpc expects)."""
        return f"{self._host}:{self._grpc_port}"

    @property
    def metrics_url(self) -> str:
        """Full URL of the Prometheus metrics endpoint."""
        return f"http://{self._host}:{self._metrics_port}/metrics"

    @property
    def model_repository(self) -> Path:
        return self._repository

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """Exit status once the process ended (negative: killed by that signal)."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ commands
    def command(self, backend_directory: Path) -> list[str]:
        """The ``tritonserver`` argument vector."""
        dist = self._dist()
        args = [
            str(dist.binary),
            f"--model-repository={self._repository}",
            f"--backend-directory={backend_directory}",
            f"--http-address={self._host}",
            f"--http-port={self._http_port}",
            f"--grpc-address={self._host}",
            f"--grpc-port={self._grpc_port}",
            f"--metrics-address={self._host}",
            f"--metrics-port={self._metrics_port}",
            "--allow-gpu-metrics=false",
            f"--model-control-mode={self._mode}",
            f"--exit-timeout-secs={self._exit_timeout_s}",
            f"--log-verbose={self._log_verbose}",
        ]
        if dist.caches_dir is not None:
            args.append(f"--cache-directory={dist.caches_dir}")
        if self._mode == "poll":
            args.append(f"--repository-poll-secs={self._repository_poll_s}")
        args.extend(f"--load-model={name}" for name in self._load_models)
        if self._shm_prefix:
            args.append(f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}")
        args.extend(self._extra_args)
        return args

    def _dist(self) -> TritonDistribution:
        if self._distribution is None:
            self._distribution = find_triton_distribution()
        return self._distribution

    def start(self) -> None:
        """Launch ``tritonserver`` (returns at once; see ``wait_ready``)."""
        if self.running:
            raise RuntimeError(f"tritonserver already running (pid {self.pid})")
        if not self._repository.is_dir():
            raise FileNotFoundError(f"model repository {self._repository} is not a directory")
        dist = self._dist()
        backends = self._backend_directory or prepare_backend_directory(dist)
        env = triton_environment(dist)
        env.update(self._env_overrides)
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="tritonserver-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._shm_prefix = f"mlinfer_{os.getpid()}_{uuid.uuid4().hex[:8]}_"
        cmd = self.command(backends)
        with self._log_path.open("ab") as log:
            log.write(f"# {' '.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self._repository),
                start_new_session=True,  # own process group: the stubs go down with it
            )
        self._started_at = time.monotonic()

    # ----------------------------------------------------------------- readiness
    def _get(self, path: str, timeout_s: float = 1.0) -> int | None:
        return _http_status(f"http://{self._host}:{self._http_port}{path}", timeout_s)

    def is_live(self) -> bool:
        return self.running and self._get("/v2/health/live") == 200

    def is_ready(self, models: Sequence[str] = ()) -> bool:
        """Server ready (``/v2/health/ready``) and each of ``models`` ready."""
        if not self.running or self._get("/v2/health/ready") != 200:
            return False
        return all(self._get(f"/v2/models/{name}/ready") == 200 for name in models)

    def wait_ready(
        self,
        timeout_s: float | None = None,
        models: Sequence[str] = (),
        poll_interval_s: float = 0.05,
    ) -> float:
        """Block until the server (and ``models``) report ready; return seconds since start.

        Raise ``TritonStartError`` with the end of the log if the process exits meanwhile or the
        time runs out.
        """
        proc = self._proc
        if proc is None:
            raise RuntimeError("tritonserver was not started")
        timeout = self.startup_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise TritonStartError(
                    f"tritonserver exited with status {code} before becoming ready; "
                    f"log {self._log_path}:\n{self.log_tail()}"
                )
            if self.is_ready(models):
                return time.monotonic() - self._started_at
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TritonStartError(
                    f"tritonserver not ready after {timeout:.1f}s; "
                    f"log {self._log_path}:\n{self.log_tail()}"
                )
            # Waiting on the process doubles as the poll delay and wakes up if it dies.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=min(poll_interval_s, remaining))

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server log."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        with self._log_path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
        return "\n".join(data.splitlines()[-lines:])

    # ------------------------------------------------------------------ shutdown
    def stop(self, timeout_s: float | None = None) -> int | None:
        """SIGTERM, wait (default: exit timeout + 10 s), then SIGKILL. Return the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            wait_s = self._exit_timeout_s + 10.0 if timeout_s is None else timeout_s
            try:
                proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                self._kill_group(proc)
                proc.wait()
        self._cleanup(proc)
        return proc.returncode

    def kill(self) -> int | None:
        """SIGKILL the server and its backend stubs at once, as a crash would. Return status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._kill_group(proc)
            proc.wait()
        self._cleanup(proc)
        return proc.returncode

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    def _cleanup(self, proc: subprocess.Popen[bytes]) -> None:
        # Stubs whose server died (or did not stop them) would linger in the process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if self._shm_prefix and _SHM_DIR.is_dir():
            for leftover in _SHM_DIR.glob(f"{self._shm_prefix}*"):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    # ------------------------------------------------------------ context manager
    def __enter__(self) -> TritonServerProcess:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited({self.returncode})"
        return (
            f"TritonServerProcess(repo={str(self._repository)!r}, http={self.http_url}, "
            f"grpc={self.grpc_url}, pid={self.pid}, {state})"
        )
