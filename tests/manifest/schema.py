"""Offline validators for the official Teams manifest schemas vendored in tests/schemas/."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft7Validator, validators
from jsonschema.protocols import Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "teams-manifest"
PUBLISHED = "https://developer.microsoft.com/json-schemas/teams/v{version}/{name}"
MANIFEST_SCHEMA = "MicrosoftTeams.schema.json"
LOCALIZATION_SCHEMA = "MicrosoftTeams.Localization.schema.json"

# The schemas say draft-04 but use `const` and `if`/`then`/`else` from later drafts, which
# Microsoft's ajv-based validator applies; plain Draft4Validator would silently skip them.
TeamsSchemaValidator = validators.extend(
    Draft4Validator,
    {"const": Draft7Validator.VALIDATORS["const"], "if": Draft7Validator.VALIDATORS["if"]},
)


def schema_path(version: str, name: str) -> Path:
    """Where the vendored schema file for a manifest version lives."""
    return SCHEMAS / f"v{version}" / name


@lru_cache(maxsize=8)
def validator(version: str, name: str = MANIFEST_SCHEMA) -> Validator:
    """A validator for one vendored schema; references to anything not vendored fail, never fetch."""
    documents = {
        PUBLISHED.format(version=version, name=other): json.loads(
            schema_path(version, other).read_text(encoding="utf-8")
        )
        for other in (MANIFEST_SCHEMA, LOCALIZATION_SCHEMA)
    }
    # A registry without a retrieve function can only answer from these documents: no network.
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(contents)) for uri, contents in documents.items()
    )
    schema = documents[PUBLISHED.format(version=version, name=name)]
    # The schema itself must be valid; its formats are left unchecked because one pattern uses
    # \p{L} (JavaScript's Unicode classes), which Python's re cannot compile. That pattern sits
    # under `extensions` (Office add-ins), which this app does not use.
    meta_problems = list(TeamsSchemaValidator(TeamsSchemaValidator.META_SCHEMA).iter_errors(schema))
    assert not meta_problems, meta_problems[0]
    checker: Validator = TeamsSchemaValidator(schema, registry=registry)
    return checker


def problems(checker: Validator, document: Any) -> list[str]:
    """Every schema violation in the document, as 'path: message' lines."""
    return sorted(
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in checker.iter_errors(document)
    )
