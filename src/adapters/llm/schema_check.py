"""The operator's JSON Schema made safe to check with at run time: every ``$ref`` is
resolved inside the file once, at start-up, and the validator is given a registry that
refuses to fetch anything (a remote ``$ref`` would otherwise be fetched synchronously,
without a timeout, inside the event loop, on every check)."""

from __future__ import annotations

from typing import Any

import jsonschema
import referencing.jsonschema
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource, Specification
from referencing._core import Resolver
from referencing.exceptions import NoSuchResource, Unresolvable

# Keywords whose values are data, not schemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


class SchemaProblem(ValueError):
    """The schema cannot be used; the text says why (for one line naming the setting)."""


def _refuse(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs field, mypy misses it


def checked_validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for *schema* that never fetches: SchemaProblem when the schema is not
    a valid JSON Schema or when one of its references does not resolve inside it."""
    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except SchemaError as exc:
        raise SchemaProblem(f"is not a valid JSON Schema: {exc.message}") from None
    except RecursionError:
        raise SchemaProblem("nests too deeply to be checked") from None
    specification = referencing.jsonschema.specification_with(
        str(schema.get("$schema", "")), default=referencing.jsonschema.DRAFT202012
    )
    root = specification.create_resource(schema)
    registry: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]
    registry = registry.with_resource(root.id() or "", root)
    _check_references(schema, registry.resolver_with_root(root), specification)
    return validator_cls(schema, registry=registry)


def _check_references(
    schema: dict[str, Any],
    resolver: Resolver[Any],
    specification: Specification[Any],
) -> None:
    """Walk the schema without recursion and resolve every reference where it stands."""
    stack: list[tuple[Any, Resolver[Any]]] = [(schema, resolver)]
    while stack:
        node, here = stack.pop()
        if isinstance(node, list):
            stack.extend((item, here) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        try:
            here = here.in_subresource(specification.create_resource(node))
        except Exception as exc:  # an "$id" that is no URI, ...
            raise SchemaProblem(f"has an unusable $id: {exc}") from None
        for keyword in _REF_KEYWORDS:
            ref = node.get(keyword)
            if isinstance(ref, str):
                _resolve(here, keyword, ref)
        stack.extend((value, here) for key, value in node.items() if key not in _DATA_KEYWORDS)


def _resolve(resolver: Resolver[Any], keyword: str, ref: str) -> None:
    try:
        resolver.lookup(ref)
    except Unresolvable:
        remote = "://" in ref or not (ref.startswith("#") or ref == "")
        why = " (references outside the file are not fetched)" if remote else ""
        raise SchemaProblem(f"{keyword} {ref!r} does not resolve inside the file{why}") from None
    except Exception as exc:  # a malformed pointer, ...
        raise SchemaProblem(f"{keyword} {ref!r} cannot be resolved: {exc}") from None
