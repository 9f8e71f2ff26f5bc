"""What ``bitbake -e RECIPE`` computes, for many recipes in one BitBake session.

Run inside the build environment (oe-init-build-env puts bitbake/lib on PYTHONPATH) as

    python3 bitbake_env.py OUTPUT.json RECIPE...

Each ``bitbake -e`` loads the whole recipe cache again (15-20 s on a 2-core machine), so
this script loads it once through tinfoil, BitBake's own API for tools such as
bitbake-layers and devtool, and then parses each recipe with its bbappends exactly as
``bitbake -e`` does. Like ``bitbake -e``, it expands every variable of the recipe; a
variable that fails to expand is reported as an error. OUTPUT.json maps each recipe to
``{"file", "appends", "errors", "values"}`` with the expanded value of every variable
that is not a function.
"""

from __future__ import annotations

import base64
import json
import sys

import bb.tinfoil  # type: ignore[import-not-found]

# Runs in the BitBake server, where the recipe's datastore lives: expanding each variable
# through tinfoil's remote datastore would cost one round trip per variable (thousands per
# recipe). The result is base64 so that BitBake's expansion leaves it alone.
_EXPAND_ALL = """
def expand_all(d):
    import base64, json
    values, errors = {}, []
    for key in d.keys():
        if key.startswith("__") or d.getVarFlag(key, "func", False):
            continue
        try:
            value = d.getVar(key)
        except Exception as error:
            errors.append("%s: %s" % (key, error))
            continue
        if isinstance(value, str):
            values[key] = value
    return base64.b64encode(json.dumps([values, errors]).encode()).decode()
"""


def recipe_environment(tinfoil: bb.tinfoil.Tinfoil, pn: str) -> dict[str, object]:
    try:
        fn = tinfoil.get_recipe_file(pn)
        data = tinfoil.parse_recipe_file(fn)
        call = "(lambda g: exec(" + repr(_EXPAND_ALL) + ", g) or g['expand_all'](d))({})"
        encoded = data.expand("${@" + call + "}")
    except Exception as error:  # BitBake raises its own types; report them all
        return {"file": None, "appends": [], "errors": [f"{pn}: {error}"], "values": {}}
    values, errors = json.loads(base64.b64decode(encoded))
    return {
        "file": fn,
        "appends": list(tinfoil.get_file_appends(fn)),
        "errors": [f"{pn}: {e}" for e in errors],
        "values": values,
    }


def main() -> int:
    output, recipes = sys.argv[1], sys.argv[2:]
    with bb.tinfoil.Tinfoil() as tinfoil:
        tinfoil.prepare(config_only=False, quiet=2)
        result = {}
        for pn in recipes:
            print(f"bitbake_env: {pn}", flush=True)
            result[pn] = recipe_environment(tinfoil, pn)
    with open(output, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
