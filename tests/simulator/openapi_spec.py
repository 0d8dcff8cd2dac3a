"""The bundled OpenAI spec as a JSON Schema registry, loaded once per test session.

The simulator follows the SDK where the spec disagrees with it, so two things are widened
before validating, each for a reason:
- `Response.usage` is `null` until the response is terminal (what the SDK types and the API
  reference describe), but the spec types it as a plain object: it becomes
  `ResponseUsage | null`.
- The spec is declared OpenAPI 3.1, yet over a hundred of its schemas (the Assistants objects
  among them) still mark nullable fields the 3.0 way, `nullable: true`, which JSON Schema 2020-12
  ignores. `RunObject.started_at` is `{"type": "integer", "nullable": true}`, so a queued run's
  `null` would fail. Every such schema becomes `anyOf: [schema, null]`, which is what the
  keyword means and what the SDK types say (`Optional[...]`).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared/reference/openai-openapi.yaml"
SPEC_URI = "urn:openai-openapi"


def is_available() -> bool:
    """True when the shared folder with the spec sits beside the repo."""
    return SPEC_PATH.exists()


@cache
def load_registry() -> Registry:
    """The widened spec (3 MB, so parsed once) as a registry resolving #/components refs."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    spec = widen_nullable(copy.deepcopy(spec))
    response_fields = spec["components"]["schemas"]["Response"]["allOf"][2]["properties"]
    response_fields["usage"] = {
        "anyOf": [{"$ref": "#/components/schemas/ResponseUsage"}, {"type": "null"}]
    }
    resource: Resource[Any] = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


def widen_nullable(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 `nullable: true` as JSON Schema's `anyOf: [schema, null]`."""
    if isinstance(node, list):
        return [widen_nullable(child) for child in node]
    if not isinstance(node, dict):
        return node
    widened = {key: widen_nullable(value) for key, value in node.items()}
    if widened.pop("nullable", False) is True:
        return {"anyOf": [widened, {"type": "null"}]}
    return widened


def problems(registry: Registry, schema_name: str, body: Any) -> list[str]:
    """Every way `body` fails the spec's `components/schemas/<schema_name>` (empty if none)."""
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    validator = Draft202012Validator(schema, registry=registry)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(body)
    ]
