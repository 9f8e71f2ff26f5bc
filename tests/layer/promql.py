"""Metric names out of PromQL expressions, and the expressions of the dashboards and rules.

Not a PromQL parser: it removes what cannot be a metric name (strings, label matchers,
range and subquery brackets, grouping clauses, numbers, durations, function names,
keywords) and keeps the identifiers that are left. Good enough for the queries of this
repository; tests/layer/test_dashboard_metrics.py checks it on known cases.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.layer.layerlib import DEPLOY

DASHBOARDS = DEPLOY / "grafana" / "dashboards"
RULES = DEPLOY / "prometheus" / "rules"

KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "atan2",
    "inf",
    "nan",
    "start",
    "end",
}
_CLAUSE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges, subqueries
    text = _CLAUSE.sub(" ", text)  # grouping / matching label lists
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables outside brackets
    text = re.sub(
        r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?\b", " ", text
    )  # numbers, durations
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        rest = text[match.end() :].lstrip()
        if rest.startswith("("):  # a function (or aggregation) call
            continue
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def _label_values_metric(query: str) -> str | None:
    """The series selector of a Grafana label_values(selector, label) variable query."""
    query = query.strip()
    if not (query.startswith("label_values(") and query.endswith(")")):
        return None
    inner, depth = query[len("label_values(") : -1], 0
    for i, char in enumerate(inner):
        depth += {"{": 1, "(": 1, "}": -1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            return inner[:i].strip()
    return None


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel query and query variable of every dashboard."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            if isinstance(query, str) and query:
                selector = _label_values_metric(query)
                yield f"{path.name} variable {variable['name']}", selector or query
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield f"{path.name} panel {panel.get('title')!r}", target["expr"]


def _panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def rule_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                yield f"{path.name} {name}", rule["expr"]


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's macros so that Prometheus tooling can parse a dashboard query."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
    )


def used_metric_names() -> dict[str, set[str]]:
    """metric name -> where it is used (dashboards and alert rules)."""
    used: dict[str, set[str]] = {}
    for where, expr in [*dashboard_expressions(), *rule_expressions()]:
        for name in metric_names(expr):
            used.setdefault(name, set()).add(where)
    return used


def write_as_rules(expressions: list[tuple[str, str]], path: Path) -> None:
    """Expressions as recording rules, so that `promtool check rules` parses them."""
    rules = [
        {"record": f"check:expr_{i}", "expr": grafana_to_promql(expr)}
        for i, (_where, expr) in enumerate(expressions)
    ]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
