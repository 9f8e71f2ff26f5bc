"""docs/DEPLOY.md gives the commands the other layer checks validate, with real names.

Every command in its shell blocks must name files, kas configurations, compose profiles
and secrets that exist, and the check commands must be the ones tests/layer runs.
"""

from __future__ import annotations

import re
import shlex

import yaml

from tests.layer.layerlib import KAS, REPO

DEPLOY_MD = REPO / "docs" / "DEPLOY.md"
README = REPO / "README.md"
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def commands(text: str | None = None) -> list[str]:
    text = DEPLOY_MD.read_text() if text is None else text
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        current = ""
        for line in block.splitlines():
            line = line.strip()
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            if current and not current.startswith("#"):
                lines.append(current)
            current = ""
    return lines


def test_sections() -> None:
    text = DEPLOY_MD.read_text()
    assert "\n## Deploy on Jetson\n" in text
    assert "\n## Deploy with docker compose\n" in text


def test_kas_commands_name_real_configurations() -> None:
    kas = [c for c in commands() if c.startswith("kas ")]
    builds = {shlex.split(c)[-1] for c in kas if c.startswith("kas build ")}
    assert builds == {f"kas/{p.name}" for p in KAS.glob("*.yml")}
    assert "kas lock --update kas/jetson-agx-orin-devkit.yml" in kas
    for command in kas:
        assert (REPO / shlex.split(command)[-1]).is_file(), command


def test_compose_commands_use_real_profiles() -> None:
    profiles = {p for service in COMPOSE["services"].values() for p in service.get("profiles", [])}
    used = set()
    for command in commands():
        if command.startswith("docker compose"):
            args = shlex.split(command)
            if "--profile" in args:
                used.add(args[args.index("--profile") + 1])
    assert used == profiles == {"gpu", "cpu"}


def test_every_required_secret_is_documented() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (REPO / "docker-compose.yml").read_text()))
    assert required
    text = DEPLOY_MD.read_text()
    for secret in required:
        assert f"{secret}=" in text, f"{secret} is required by compose but not in DEPLOY.md"


def test_files_the_commands_name_exist() -> None:
    for command in commands():
        for word in shlex.split(command.replace("$(", "( ")):
            if re.match(r"(deploy|kas|meta-ml-inference|scripts|tests)/", word) and "*" not in word:
                target = REPO / word
                if word.startswith("deploy/nginx/certs/"):
                    target = target.parent  # made by the openssl command itself
                assert target.exists(), f"{command}: {word} does not exist"


def test_check_commands_are_the_ones_ci_runs() -> None:
    listed = commands()
    for check in (
        "docker compose --profile gpu config --quiet",
        "promtool check rules deploy/prometheus/rules/mlinfer.rules.yml",
        "promtool test rules deploy/prometheus/tests/mlinfer.rules.test.yml",
        "python deploy/grafana/build_dashboards.py --check",
        "pytest tests/layer",
    ):
        assert check in listed, check


def readme_deploy_sections() -> str:
    """README's two deploy sections (its other blocks are quick-start commands)."""
    text = README.read_text()
    heading = r"\n(## Deploy (?:on Jetson|with docker compose)\n.*?)(?=\n## )"
    sections = re.findall(heading, text, re.S)
    assert len(sections) == 2, "README needs 'Deploy on Jetson' and 'Deploy with docker compose'"
    return "\n".join(sections)


def test_readme_deploy_commands_are_the_checked_ones() -> None:
    readme = commands(readme_deploy_sections())
    assert readme, "README's deploy sections give no commands"
    checked = set(commands())
    for command in readme:
        assert command in checked, f"README command not in docs/DEPLOY.md (unchecked): {command}"
    builds = {shlex.split(c)[-1] for c in readme if c.startswith("kas build ")}
    assert builds == {f"kas/{p.name}" for p in KAS.glob("*.yml")}
