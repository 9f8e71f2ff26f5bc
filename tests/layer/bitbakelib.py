"""A BitBake build directory laid out as kas lays it out, from the snapshots of the pinned layers.

kas checks every remote repository of the kas files out into its work directory under the
repository's name, uses this checkout for the repository without a url, and writes
build/conf/bblayers.conf and build/conf/local.conf from the merged configuration. Here the
remote repositories come from /work/shared/yocto/layers/<name>.tar.xz (``git archive`` of
the commits common.lock.yml pins; MLINFER_YOCTO_LAYERS points elsewhere), the checkout is
copied (BitBake runs as an unprivileged user and externalsrc must not write into the real
one), and both configuration files are generated from kas/*.yml, so that the build follows
the kas files. Only a few lines are added to local.conf: what the sandbox needs (no network,
no uninative download, no host-distro check).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.layer.layerlib import KAS, REPO

SNAPSHOTS = Path(os.environ.get("MLINFER_YOCTO_LAYERS", REPO.parent / "shared/yocto/layers"))
BITBAKE_USER = os.environ.get("MLINFER_BITBAKE_USER", "bitbake")
INSTALL_HINT = "scripts/ci/bitbake-tools.sh sets it up"

# Lines the sandbox needs on top of the kas configuration. Nothing else differs from kas.
SANDBOX_CONF = """
# --- tests/layer/bitbakelib.py: parse and task graph only, no network ---
BB_NO_NETWORK = "1"
CONNECTIVITY_CHECK_URIS = ""
SANITY_TESTED_DISTROS = ""
"""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """kas's include merge: mappings merge key by key, later values win."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def kas_config(kas_file: Path) -> dict[str, Any]:
    """The merged configuration of a kas file: its includes first (depth first), then the
    file, then the lock file beside each file (``<name>.lock.yml``, as kas reads it)."""
    own = yaml.safe_load(kas_file.read_text()) or {}
    merged: dict[str, Any] = {}
    for include in (own.get("header") or {}).get("includes") or []:
        if not isinstance(include, str):
            raise ValueError(f"{kas_file}: only repository-relative includes are supported")
        merged = _merge(merged, kas_config(REPO / include))
    merged = _merge(merged, own)
    lock = kas_file.with_name(kas_file.stem + ".lock.yml")
    if lock.exists():
        merged = _merge(merged, yaml.safe_load(lock.read_text()) or {})
    return merged


def machine_kas_files() -> list[Path]:
    """The top-level kas files: one per machine."""
    return sorted(p for p in KAS.glob("*.yml") if "machine" in (yaml.safe_load(p.read_text())))


@dataclass(frozen=True)
class Layout:
    work: Path  # KAS_WORK_DIR
    checkout: Path  # this repository, as the build sees it

    @property
    def build(self) -> Path:
        return self.work / "build"

    def repo_dir(self, name: str, spec: dict[str, Any]) -> Path:
        if not spec.get("url"):
            return self.checkout
        return self.work / spec.get("path", name)


def bblayers(config: dict[str, Any], layout: Layout) -> list[Path]:
    """The enabled layers of every repository, in the order of the kas file."""
    layers = []
    for name, spec in config["repos"].items():
        spec = spec or {}
        for layer, state in (spec.get("layers") or {".": None}).items():
            if state in ("disabled", "excluded", "n", "no", "0", "false"):
                continue
            layers.append((layout.repo_dir(name, spec) / layer).resolve())
    return layers


def bblayers_conf(config: dict[str, Any], layout: Layout) -> str:
    paths = " \\\n".join(f"    {p}" for p in bblayers(config, layout))
    header = "".join(v for _, v in sorted((config.get("bblayers_conf_header") or {}).items()))
    return f'{header}\nBBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS ?= " \\\n{paths} \\\n"\n'


def local_conf(config: dict[str, Any]) -> str:
    header = "".join(v for _, v in sorted((config.get("local_conf_header") or {}).items()))
    return (
        f"{header}\n"
        f'MACHINE ??= "{config["machine"]}"\n'
        f'DISTRO ??= "{config["distro"]}"\n'
        f"{SANDBOX_CONF}"
    )


# Not part of a checkout that kas would see (a tree without .git: a copy or a release).
_NOT_SOURCE = {".git", ".venv", "build", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _tracked_files() -> list[str]:
    if not (REPO / ".git").exists():
        return [
            str(path.relative_to(REPO))
            for path in REPO.rglob("*")
            if path.is_file()
            and not _NOT_SOURCE & set(path.relative_to(REPO).parts)
            and "__pycache__" not in path.parts
        ]
    result = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    return [name for name in result.stdout.decode().split("\0") if name]


def lay_out(work: Path, config: dict[str, Any]) -> Layout:
    """Unpack the pinned layers and copy the checkout (its tracked and untracked, not
    ignored files: what a clone plus the working tree's edits contain) into ``work``."""
    layout = Layout(work=work, checkout=work / "mlinfer")
    for name, spec in config["repos"].items():
        spec = spec or {}
        if not spec.get("url"):
            continue
        archive = SNAPSHOTS / f"{name}.tar.xz"
        if not archive.exists():
            raise FileNotFoundError(f"no snapshot of {name}: {archive}")
        target = layout.repo_dir(name, spec)
        target.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "tar_filter"):  # Python >= 3.11.4 (and 3.12); 3.11.2 lacks it
                tar.extractall(target, filter="tar")
            else:  # our own pinned snapshots, so nothing to filter out
                tar.extractall(target)
    for name in _tracked_files():
        source = REPO / name
        if source.is_file():
            destination = layout.checkout / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    (layout.build / "conf").mkdir(parents=True)
    return layout


def write_conf(layout: Layout, config: dict[str, Any]) -> None:
    (layout.build / "conf" / "bblayers.conf").write_text(bblayers_conf(config, layout))
    (layout.build / "conf" / "local.conf").write_text(local_conf(config))


# --- running BitBake --------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    args: list[str]
    returncode: int
    output: str
    seconds: float

    def messages(self, level: str) -> list[str]:
        """``ERROR:``/``WARNING:`` messages, each with its continuation lines."""
        out: list[str] = []
        current: list[str] | None = None
        for line in self.output.splitlines():
            if re.match(r"^(ERROR|WARNING|NOTE|DEBUG|Summary|Parsing|Loading|Loaded)\b", line):
                if current is not None:
                    out.append("\n".join(current))
                current = [line] if line.startswith(f"{level}:") else None
            elif current is not None:
                current.append(line)
        if current is not None:
            out.append("\n".join(current))
        return out


def run_as_user() -> list[str]:
    """The command prefix that runs BitBake unprivileged (it refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise LookupError("runuser is missing")
    import pwd

    try:
        pwd.getpwnam(BITBAKE_USER)
    except KeyError:
        raise LookupError(f"user {BITBAKE_USER} does not exist") from None
    return ["runuser", "-u", BITBAKE_USER, "--"]


def hand_over(path: Path) -> None:
    """Give the tree to the user BitBake runs as."""
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam(BITBAKE_USER)
        for root, dirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for name in dirs + files:
                os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


Progress = Callable[[str], None]


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# A guard against a hung BitBake, not a speed target: one parse is 3-8 minutes on an idle
# 2-core machine and has taken over 20 on a loaded one.
COMMAND_TIMEOUT = 3600.0


def bitbake(
    layout: Layout, command: str, progress: Progress = to_stderr, timeout: float = COMMAND_TIMEOUT
) -> Run:
    """Run a command in the build environment (oe-init-build-env, as kas does), passing
    BitBake's messages and progress lines to ``progress`` as they come: a parse takes
    minutes."""
    script = (
        f"cd {shlex.quote(str(layout.work / 'openembedded-core'))} && "
        f". ./oe-init-build-env {shlex.quote(str(layout.build))} >/dev/null && {command}"
    )
    env = [
        "env",
        "-i",
        f"HOME={layout.work}",
        "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "LANG=en_US.UTF-8",
        "LC_ALL=en_US.UTF-8",
        # Keep the server between the commands of one machine (it has read the
        # configuration); each command still loads the recipes from the parse cache,
        # which BitBake drops when a client disconnects.
        "BB_SERVER_TIMEOUT=120",
    ]
    args = [*run_as_user(), *env, "bash", "-c", script]
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in _lines(proc.stdout, started, timeout, proc, progress):
            lines.append(line)
        returncode = proc.wait()
    seconds = time.monotonic() - started
    progress(f"[bitbake] {command}: exit {returncode} after {seconds:.0f} s")
    return Run([command], returncode, "".join(lines), seconds)


def _lines(
    stream: Any, started: float, timeout: float, proc: subprocess.Popen[str], progress: Progress
) -> Iterator[str]:
    for line in stream:
        if time.monotonic() - started > timeout:
            proc.kill()
            raise TimeoutError(f"BitBake ran past {timeout} s")
        if line.startswith(("ERROR", "WARNING", "Parsing", "NOTE: Resolving", "Summary")):
            progress(f"[bitbake] {line.rstrip()}")
        yield line


def stop_server(layout: Layout, progress: Progress = to_stderr) -> None:
    bitbake(layout, "bitbake --kill-server || true", progress, timeout=120)
