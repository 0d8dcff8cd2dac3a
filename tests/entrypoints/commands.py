"""The commands a user starts, read from where the user reads them: the README's fenced bash
blocks (and its command table for `runq serve`), `make demo`'s recipe, and every
docker-compose.yml service. Pure parsing; the conftest starts what this returns.

When the README or the compose file changes, the entrypoints tier starts the new lines. A
line of a kind it does not know how to check (`kind` "unknown") fails the tier, so a new
entry point cannot slip in untested.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COMPOSE = ROOT / "docker-compose.yml"
MAKEFILE = ROOT / "Makefile"
# The README's bash blocks also hold curl calls and `make test` (the suite itself).
PROGRAMS = {"celery", "runq", ".venv/bin/runq", "make"}
MAKE_TARGETS = {"demo"}  # `make test` is this suite; `make install` is not an entry point
# Examples from the README's command table for commands no bash block shows.
TABLE_COMMANDS = ("serve",)


@dataclass(frozen=True)
class Entrypoint:
    """One command line a user starts, where it was read, and how the tier checks it."""

    source: str  # "README.md", "docker-compose.yml:<service>", "Makefile:<target>"
    args: tuple[str, ...]  # argv as written there
    kind: str  # worker, beat, api, flower, oneshot, redis, unknown
    healthcheck: tuple[str, ...] = ()  # compose's healthcheck test, as written
    env: tuple[tuple[str, str], ...] = ()  # a compose service's own environment

    @property
    def id(self) -> str:
        return f"{self.source}: {shlex.join(self.args)}"[:120]


def kind_of(args: list[str]) -> str:
    """What sort of process `args` starts (decides how the tier checks it)."""
    words = [Path(args[0]).name, *args[1:]] if args else []
    if "redis-server" in " ".join(words):
        return "redis"
    if words[:1] == ["celery"] and "worker" in words:
        return "worker"
    if words[:1] == ["celery"] and "beat" in words:
        return "beat"
    command = words[1] if words[:1] == ["runq"] and len(words) > 1 else None
    return {
        "worker": "worker",
        "serve": "api",
        "flower": "flower",
        "migrate": "oneshot",
        "demo": "oneshot",
    }.get(command or "", "unknown")


def bash_lines(markdown: str) -> list[str]:
    """Every line of every ```bash block; a `# or: CMD` comment line counts as CMD."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.DOTALL):
        for line in block.splitlines():
            line = re.sub(r"^\s*#\s*or:\s*", "", line).strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def table_example(markdown: str, command: str) -> list[str]:
    """The first example of `command` in the README's command table, as argv."""
    match = re.search(rf"^\| `{command}` \| `([^`]+)`", markdown, flags=re.MULTILINE)
    if match is None:
        raise AssertionError(f"the README's command table has no example for `{command}`")
    return shlex.split(match.group(1))


def make_recipe(makefile: str, target: str) -> list[str]:
    """The one command line of a Makefile target, `$(VENV)/bin/` dropped."""
    match = re.search(rf"^{target}:.*\n\t(.+)$", makefile, flags=re.MULTILINE)
    if match is None:
        raise AssertionError(f"the Makefile has no `{target}` target")
    return shlex.split(match.group(1).replace("$(VENV)/bin/", ""))


def readme_entrypoints(markdown: str, makefile: str) -> list[Entrypoint]:
    """The README's commands: its bash blocks (with `make demo` expanded) and the table's."""
    found: list[Entrypoint] = []
    for line in bash_lines(markdown):
        if line.split()[0] not in PROGRAMS:
            continue  # curl, assignments, continuation lines: not processes to start
        args = shlex.split(line, comments=True)
        if args[0] == "make":
            for target in (t for t in args[1:] if t in MAKE_TARGETS):
                recipe = make_recipe(makefile, target)
                found.append(Entrypoint(f"Makefile:{target}", tuple(recipe), kind_of(recipe)))
            continue
        args[0] = Path(args[0]).name  # `.venv/bin/runq` is `runq` on the venv's PATH
        found.append(Entrypoint("README.md", tuple(args), kind_of(args)))
    for command in TABLE_COMMANDS:
        args = table_example(markdown, command)
        found.append(Entrypoint("README.md", tuple(args), kind_of(args)))
    return found


def compose_entrypoints(compose: dict[str, Any]) -> list[Entrypoint]:
    """Every service that has a command, with its healthcheck and its own environment."""
    found = []
    for name, service in compose["services"].items():
        command = service.get("command")
        if command is None:
            continue  # the image's own entry point (postgres): nothing of ours to run
        args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        test = service.get("healthcheck", {}).get("test") or []
        test = shlex.split(test) if isinstance(test, str) else [str(t) for t in test]
        own_env = service.get("environment") if service.get("image", "").startswith("redis") else {}
        env = tuple((str(k), str(v)) for k, v in (own_env or {}).items())
        found.append(
            Entrypoint(f"docker-compose.yml:{name}", tuple(args), kind_of(args), tuple(test), env)
        )
    return found


def every_entrypoint() -> list[Entrypoint]:
    """The README's, `make demo`'s and docker-compose.yml's commands, in that order."""
    compose = yaml.safe_load(COMPOSE.read_text())
    readme = readme_entrypoints(README.read_text(), MAKEFILE.read_text())
    return readme + compose_entrypoints(compose)


def option(args: list[str] | tuple[str, ...], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in `args`, if present."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def with_option(args: list[str], name: str, value: str) -> list[str]:
    """`args` with `--name` set to `value` (replaced where present, else appended)."""
    out = list(args)
    for index, arg in enumerate(out):
        if arg == name and index + 1 < len(out):
            out[index + 1] = value
            return out
        if arg.startswith(f"{name}="):
            out[index] = f"{name}={value}"
            return out
    return [*out, name, value]
