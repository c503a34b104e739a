"""MkDocs hooks: the manual's generated pages, rendered from the code at build time.

Two pages hold a marker line that this replaces, so neither can drift from the code:

    configuration.md  <!-- generated: configuration keys -->  every key of config.json
                      (risk/config.py: PATH_KEYS, OPTIONAL_KEYS, KEY_DOCS, MODEL_DEFAULTS)
    api-reference.md  <!-- generated: openapi -->             the OpenAPI document the API
                      serves at /openapi.json, from an app built on a scratch config
    architecture.md   <!-- generated: scripts -->             the scripts at the top level and
                      <!-- generated: package -->             the package's groups and modules,
                      each with the first line of its docstring (read, not imported)

A page without its marker fails the build. mkdocs.yml names this file under `hooks:`;
tests/test_docs.py imports it by path.
"""
from __future__ import annotations

import ast
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # mkdocs runs from the checkout, but not with it on sys.path
    sys.path.insert(0, str(ROOT))

from mkdocs.exceptions import PluginError  # noqa: E402

from risk import config as risk_config  # noqa: E402

CONFIG_MARKER = "<!-- generated: configuration keys -->"
OPENAPI_MARKER = "<!-- generated: openapi -->"
SCRIPTS_MARKER = "<!-- generated: scripts -->"
PACKAGE_MARKER = "<!-- generated: package -->"
METHODS = ("get", "post", "put", "patch", "delete")


class GeneratedPageError(PluginError):
    """A generated page lost its marker, or the code gave nothing to render."""


def cell(text: Any) -> str:
    """`text` safe in one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- configuration -----------------------------------------------------------------

def _type_name(types: tuple[type, ...], is_path: bool) -> str:
    names = {str: "path" if is_path else "text", int: "whole number", float: "number",
             dict: "object", bool: "true/false", type(None): "null"}
    if int in types and float in types:
        types = tuple(t for t in types if t is not int)
    return " or ".join(names.get(t, t.__name__) for t in types)


def _default(value: Any) -> str:
    return f"`{json.dumps(value)}`"


def config_markdown() -> str:
    """Every config key: type, default and meaning, then the model's parameters."""
    undescribed = [k for k in (*risk_config.PATH_KEYS, *risk_config.OPTIONAL_KEYS)
                   if not risk_config.KEY_DOCS.get(k, "").strip()]
    if undescribed:
        raise GeneratedPageError(f"risk/config.py: key '{undescribed[0]}' has no description in KEY_DOCS")
    path_keys = (*risk_config.PATH_KEYS, *risk_config.OPTIONAL_PATH_KEYS)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in risk_config.PATH_KEYS:
        rows.append(f"| `{key}` | path | required | {cell(risk_config.KEY_DOCS[key])} |")
    for key, (types, default) in risk_config.OPTIONAL_KEYS.items():
        rows.append(f"| `{key}` | {_type_name(types, key in path_keys)} | {cell(_default(default))} "
                    f"| {cell(risk_config.KEY_DOCS[key])} |")
    params = ["| parameter | type | the course's value |", "|---|---|---|"]
    for name, default in risk_config.MODEL_DEFAULTS.items():
        params.append(f"| `{name}` | {_type_name(risk_config.MODEL_PARAM_TYPES[name], False)} "
                      f"| {cell(_default(default))} |")
    return "\n".join([*rows, "", "### `model_params`", "",
                      "The model's parameters and their values unless `model_params` overrides them:",
                      "", *params]) + "\n"


# --- the API reference ---------------------------------------------------------------

def openapi_document() -> dict[str, Any]:
    """The document the API serves at /openapi.json, from an app built on a scratch config."""
    from risk.serving import app as risk_api

    with tempfile.TemporaryDirectory(prefix="risk-docs-") as folder:
        path = Path(folder) / "config.json"
        path.write_text(json.dumps({key: key.removesuffix("_path") for key in risk_config.PATH_KEYS}))
        logging.disable(logging.ERROR)  # "no model deployed yet" is expected here, not news
        try:
            app = risk_api.create_app(path)
        finally:
            logging.disable(logging.NOTSET)
        response = app.test_client().get("/openapi.json")
    if response.status_code != 200:
        raise GeneratedPageError(f"/openapi.json answered {response.status_code}")
    return response.get_json()


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_link(name: str) -> str:
    return f"[{name}](#schema-{name.lower()})"


def type_text(schema: dict[str, Any]) -> str:
    """A schema in a few words, its named schemas linked."""
    if "$ref" in schema:
        return _schema_link(_ref_name(schema["$ref"]))
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(type_text(s) for s in schema[key])
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {type_text(schema.get('items', {}))}"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = f"map of {type_text(schema['additionalProperties'])}"
    elif kind == "object" and "properties" in schema and "$ref" not in schema:
        text = f"object ({', '.join(schema['properties'])})"
    else:
        text = kind
    if "format" in schema:
        text += f" ({schema['format']})"
    if "enum" in schema:
        text += ": one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    bounds = [f"{word} {schema[key]:,}" for key, word in (("minimum", "≥"), ("maximum", "≤"))
              if key in schema]
    if bounds:
        text += " " + ", ".join(bounds)
    if "pattern" in schema:
        text += f", matching `{schema['pattern']}`"
    if schema.get("nullable"):
        text += " or null"
    return text


def _response(doc: dict[str, Any], response: dict[str, Any]) -> tuple[str, str]:
    if "$ref" in response:
        response = doc["components"]["responses"][_ref_name(response["$ref"])]
    bodies = [f"{type_text(c.get('schema', {}))} (`{kind}`)"
              for kind, c in response.get("content", {}).items()]
    return response.get("description", ""), ", ".join(bodies) or "none"


def _token_text(doc: dict[str, Any], operation: dict[str, Any]) -> str:
    security = operation.get("security", doc.get("security", []))
    if not any(requirement for requirement in security):
        return "never needed"
    return "a bearer token, when the server has one (`RISK_API_TOKEN` or `api_token_file`)"


def operation_markdown(doc: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> list[str]:
    anchor = f"{method}-{path.strip('/').replace('/', '-').replace('.', '-') or 'root'}"
    lines = [f"## `{method.upper()} {path}` {{#{anchor}}}", "", f"**{op.get('summary', '')}**", ""]
    if op.get("description"):
        lines += [op["description"], ""]
    lines += [f"Token: {_token_text(doc, op)}.", ""]
    if op.get("parameters"):
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in op["parameters"]:
            lines.append(f"| `{p['name']}` | {p['in']} | {cell(type_text(p.get('schema', {})))} "
                         f"| {'yes' if p.get('required') else 'no'} | {cell(p.get('description', ''))} |")
        lines.append("")
    body = op.get("requestBody")
    if body:
        lines += [f"Request body ({'required' if body.get('required') else 'optional'}), one of:", "",
                  "| content type | body |", "|---|---|"]
        for kind, content in body.get("content", {}).items():
            schema = content.get("schema", {})
            text = type_text(schema) + (f": {schema['description']}" if schema.get("description") else "")
            lines.append(f"| `{kind}` | {cell(text)} |")
        lines.append("")
    lines += ["| status | meaning | body |", "|---|---|---|"]
    for status, response in sorted(op.get("responses", {}).items()):
        description, bodies = _response(doc, response)
        lines.append(f"| {status} | {cell(description)} | {cell(bodies)} |")
    return lines + [""]


def schema_markdown(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{#schema-{name.lower()}}}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    properties = schema.get("properties", {})
    if not properties:
        return lines + [f"{type_text(schema)}.", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    for field, spec in properties.items():
        lines.append(f"| `{field}` | {cell(type_text(spec))} | {'yes' if field in required else 'no'} "
                     f"| {cell(spec.get('description', ''))} |")
    extra = []
    if schema.get("additionalProperties") is False:
        extra.append("No other fields are accepted.")
    if "minProperties" in schema or "maxProperties" in schema:
        extra.append(f"Fields given: {schema.get('minProperties', 0)} to "
                     f"{schema.get('maxProperties', len(properties))}.")
    return lines + ([""] + [" ".join(extra)] if extra else []) + [""]


def openapi_markdown(doc: dict[str, Any]) -> str:
    """The OpenAPI document as Markdown: each operation, then each schema."""
    info = doc.get("info", {})
    lines = [f"OpenAPI {doc.get('openapi')}, *{info.get('title')}* {info.get('version')}. "
             f"{info.get('description', '')}", ""]
    operations = [(path, method, ops[method]) for path, ops in sorted(doc.get("paths", {}).items())
                  for method in METHODS if method in ops]
    if not operations:
        raise GeneratedPageError("the OpenAPI document describes no operation")
    for path, method, op in operations:
        lines += operation_markdown(doc, path, method, op)
    lines += ["## Schemas", ""]
    for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items()):
        lines += schema_markdown(name, schema)
    return "\n".join(lines)


# --- the architecture ----------------------------------------------------------------

def summary_line(path: Path) -> str:
    """The first line of a Python file's docstring, read without importing it."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not docstring:
        raise GeneratedPageError(f"{path.relative_to(ROOT)} has no docstring to describe it")
    return docstring.splitlines()[0].rstrip(":")


def scripts_markdown() -> str:
    """The top level's Python files: the scripts a user runs (and gunicorn's settings)."""
    rows = ["| script | what it is |", "|---|---|"]
    rows += [f"| `{p.name}` | {cell(summary_line(p))} |" for p in sorted(ROOT.glob("*.py"))]
    return "\n".join(rows) + "\n"


def package_groups() -> list[tuple[str, str]]:
    """The package's groups in import order, as risk/__init__.py's docstring lists them."""
    docstring = ast.get_docstring(ast.parse((ROOT / "risk" / "__init__.py").read_text())) or ""
    groups = []
    for line in docstring.splitlines():
        parts = line.split(maxsplit=1)
        if line.startswith("    risk/") and len(parts) == 2:
            groups.append((parts[0], parts[1]))
    if not groups:
        raise GeneratedPageError("risk/__init__.py's docstring lists no group (lines '    risk/... what')")
    return groups


def package_markdown() -> str:
    """Each group of the package, then each of its modules with its docstring's first line."""
    lines = []
    listed = set()
    for folder, what in package_groups():
        modules = sorted(p for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py")
        listed |= set(modules)
        lines += [f"### `{folder}`", "", f"{what[0].upper()}{what[1:]}.", "",
                  "| module | what it holds |", "|---|---|"]
        lines += [f"| `{p.name}` | {cell(summary_line(p))} |" for p in modules]
        lines.append("")
    unlisted = sorted(set((ROOT / "risk").rglob("*.py")) - listed
                      - set((ROOT / "risk").rglob("__init__.py")))
    if unlisted:
        raise GeneratedPageError(f"{unlisted[0].relative_to(ROOT)} is in no group of risk/__init__.py's docstring")
    return "\n".join(lines)


# --- MkDocs ------------------------------------------------------------------------

GENERATORS = {
    "configuration.md": [(CONFIG_MARKER, config_markdown)],
    "api-reference.md": [(OPENAPI_MARKER, lambda: openapi_markdown(openapi_document()))],
    "architecture.md": [(SCRIPTS_MARKER, scripts_markdown), (PACKAGE_MARKER, package_markdown)],
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace a generated page's markers with what the code says today."""
    for marker, render in GENERATORS.get(page.file.src_uri, []):
        if markdown.count(marker) != 1:
            raise GeneratedPageError(f"docs/{page.file.src_uri} must hold the line {marker} exactly once")
        markdown = markdown.replace(marker, render())
    return markdown
