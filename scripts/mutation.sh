#!/usr/bin/env bash
# Mutation testing with mutmut 3 (configured in pyproject.toml [tool.mutmut]).
#
# Usage: scripts/mutation.sh MODULE...
#   MODULE: validation tensors scheduler queue verifier bucket key traffic analysis policy
#   gate (or all), or a dotted name such as mlinfer.core.validation. Each module runs
#   against its own tests (TESTS below; else pyproject's selection), one module at a
#   time, in build/mutation/DOTTED.NAME, each bounded by
#   MUTATION_TIMEOUT_S seconds (default 1800), with MUTATION_JOBS parallel mutants
#   (default 1: the machine is shared). Prints each module's score; a module whose run was
#   cut short is reported as partial, with how many mutants were never checked.
# Survivors listed in scripts/mutation-equivalent.txt (with the reason) are equivalent
# mutants: no test can tell them from the original, so they are left out of the score.
# Inspect a mutant: (cd build/mutation/DOTTED.NAME && ../../../.venv/bin/mutmut show NAME)
# Not a CI gate: run it for the modules you change (docs/TESTING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

declare -A MODULES=(
  [validation]=mlinfer.core.validation
  [tensors]=mlinfer.core.tensors
  [scheduler]=mlinfer.batching.scheduler
  [queue]=mlinfer.batching.queue
  [verifier]=mlinfer.auth.verifier
  [bucket]=mlinfer.ratelimit.bucket
  [key]=mlinfer.cache.key
  [traffic]=mlinfer.registry.traffic
  [analysis]=mlinfer.registry.analysis
  [policy]=mlinfer.autoscaler.policy
  [gate]=mlinfer.optimizer.gate
)
ORDER=(validation tensors scheduler queue verifier bucket key traffic analysis policy gate)
# The tests each module runs against: the narrowest selection that exercises it (mutmut
# runs it once to map tests to functions, then only the tests that reach each mutant).
# A module not named here gets pyproject's pytest_add_cli_args_test_selection.
declare -A TESTS=(
  [mlinfer.registry.traffic]="tests/unit/registry/test_traffic.py tests/unit/registry/test_dataplane_routing.py"
  [mlinfer.registry.analysis]="tests/unit/registry/test_analysis.py"
  [mlinfer.autoscaler.policy]="tests/unit/autoscaler/test_policy.py"
  [mlinfer.optimizer.gate]="tests/unit/optimizer/test_gate.py"
)

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  usage
  [ $# -eq 0 ] && exit 2 || exit 0
fi

modules=()
for arg in "$@"; do
  if [ "$arg" = "all" ]; then
    for m in "${ORDER[@]}"; do modules+=("${MODULES[$m]}"); done
  elif [ -n "${MODULES[$arg]:-}" ]; then
    modules+=("${MODULES[$arg]}")
  elif printf '%s\n' "${MODULES[@]}" | grep -qx -- "$arg"; then
    modules+=("$arg")
  else
    echo "mutation.sh: unknown module '$arg'; choose from: ${ORDER[*]} all" >&2
    exit 2
  fi
done

mutmut="$root/.venv/bin/mutmut"
if [ ! -x "$mutmut" ]; then
  echo "mutation.sh: mutmut is not installed; run scripts/bootstrap.sh \"embedded,samples,fast,dev\"" >&2
  exit 2
fi

# mutmut 3 names modules after their path and knows only ./ and src/ layouts: give it a
# tree where src/ is services/, one per module (build/mutation/MODULE), with a pyproject.toml
# that mutates only that module and selects only its tests. mutmut copies what it needs
# into build/mutation/MODULE/mutants and never touches the working tree.
stage_for() {
  local module=$1 stage="$root/build/mutation/$1"
  rm -rf "$stage"
  mkdir -p "$stage"
  ln -s "$root/services" "$stage/src"
  for item in README.md tests model_repository; do
    ln -s "$root/$item" "$stage/$item"
  done
  "$root/.venv/bin/python" - "$root/pyproject.toml" "$stage/pyproject.toml" "$module" \
    "${TESTS[$module]:-}" <<'PY'
import re
import sys
from pathlib import Path

source, target, module, tests = sys.argv[1:5]
text = Path(source).read_text()


def replace(text: str, key: str, values: list[str]) -> str:
    block = re.compile(rf"^{key} = \[.*?^\]$", re.S | re.M)
    if not block.search(text):
        sys.exit(f"mutation.sh: pyproject.toml has no {key} in [tool.mutmut]")
    listed = "".join(f'    "{v}",\n' for v in values)
    return block.sub(lambda _: f"{key} = [\n{listed}]", text, count=1)


path = "src/" + module.replace(".", "/") + ".py"
if f'"{path}"' not in text:
    sys.exit(f"mutation.sh: {path} is not in [tool.mutmut] only_mutate of pyproject.toml")
text = replace(text, "only_mutate", [path])
if tests:
    text = replace(text, "pytest_add_cli_args_test_selection", tests.split())
Path(target).write_text(text)
PY
  [ $? -eq 0 ] || exit 1
  echo "$stage"
}

timeout_s="${MUTATION_TIMEOUT_S:-1800}"
jobs="${MUTATION_JOBS:-1}"
status=0
for module in "${modules[@]}"; do
  stage=$(stage_for "$module") || exit 2
  cd "$stage"
  echo "==> mutating $module (at most ${timeout_s}s, $jobs at a time)"
  started=$(date +%s)
  rc=0
  timeout --signal=INT --kill-after=30 "$timeout_s" \
    "$mutmut" run --max-children "$jobs" "$module.*" >"$stage/$module.log" 2>&1 || rc=$?
  echo "    mutmut exited $rc after $(( $(date +%s) - started ))s (log: build/mutation/$module/$module.log)"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 130 ]; then
    tail -n 30 "$stage/$module.log" >&2
    status=1
  fi
  "$root/.venv/bin/python" - "$module" "$root/scripts/mutation-equivalent.txt" <<'PY' || status=1
import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

module, equivalent_file = sys.argv[1], Path(sys.argv[2])
meta = Path("mutants/src") / (module.replace(".", "/") + ".py.meta")
if not meta.exists():
    sys.exit(f"    no results for {module} ({meta} missing)")
exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
equivalent = {}
for line in equivalent_file.read_text().splitlines():
    name, _, reason = line.partition("#")
    if name.strip():
        equivalent[name.strip()] = reason.strip()

statuses = {name: status_by_exit_code[code] for name, code in exit_codes.items()}
counts = Counter(statuses.values())
killed = counts["killed"] + counts["timeout"]
survivors = sorted(n for n, s in statuses.items() if s == "survived")
real = [n for n in survivors if n not in equivalent]
unchecked = counts["not checked"]
# Only a complete run can say a listed mutant no longer survives.
stale = [] if unchecked else sorted(
    n for n in equivalent if n.startswith(module + ".") and n not in survivors
)
judged = len(statuses) - unchecked - (len(survivors) - len(real))
score = 100.0 * killed / judged if judged else 0.0
partial = f", PARTIAL: {unchecked} not checked" if unchecked else ""
print(
    f"    {module}: {killed} killed ({counts['timeout']} by timeout) of {len(statuses)} mutants, "
    f"{len(survivors) - len(real)} equivalent, {len(real)} surviving, "
    f"{counts['no tests']} without tests{partial}"
)
print(f"    score {module}: {score:.1f}% of non-equivalent mutants killed")
for name in real:
    print(f"    survived: {name}")
for name in stale:
    print(f"    listed as equivalent but not surviving (update the list): {name}")
PY
done
exit "$status"
