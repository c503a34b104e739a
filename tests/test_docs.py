"""The manual (docs/, mkdocs.yml): it builds strictly, every page is in the nav, and its
generated pages name every config key and every API operation the code has."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from markdown.extensions.toc import slugify

from risk import config

DOCS = ROOT / "docs"
MKDOCS = Path(sys.executable).parent / "mkdocs"
# Material prints a banner about MkDocs 2.0 on every build; not a warning of ours.
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = load_hooks()
ALL_KEYS = (*config.PATH_KEYS, *config.OPTIONAL_KEYS)


def nav_pages(nav) -> list[str]:
    """Every page file the nav names, however deep its sections."""
    pages = []
    for entry in nav:
        value = entry if isinstance(entry, str) else next(iter(entry.values()))
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def build(config_file: Path, site: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(MKDOCS), "build", "--strict", "-f", str(config_file), "-d", str(site)],
                          capture_output=True, text=True, env={**QUIET, **env}, timeout=120)


def test_every_config_key_has_a_description():
    assert set(config.KEY_DOCS) == set(ALL_KEYS)
    for key in ALL_KEYS:
        assert config.KEY_DOCS[key].strip(), key


def test_the_configuration_page_has_a_row_for_every_key_and_model_parameter():
    page = hooks.config_markdown()
    for key in ALL_KEYS:
        assert re.search(rf"^\| `{key}` \|.*\| {re.escape(hooks.cell(config.KEY_DOCS[key]))} \|$", page, re.M), key
    for name in config.MODEL_DEFAULTS:
        assert f"| `{name}` |" in page, name


def test_a_key_without_a_description_stops_the_build_naming_it(monkeypatch):
    monkeypatch.setattr(config, "KEY_DOCS", {k: v for k, v in config.KEY_DOCS.items() if k != "drift_seed"})
    with pytest.raises(hooks.GeneratedPageError, match="key 'drift_seed' has no description"):
        hooks.config_markdown()


def test_the_api_reference_renders_every_operation_and_schema_of_the_served_document():
    document = hooks.openapi_document()
    page = hooks.openapi_markdown(document)
    operations = [(path, method) for path, ops in document["paths"].items() for method in ops]
    assert ("/prediction", "post") in operations and ("/risk", "get") in operations
    for path, method in operations:
        assert f"## `{method.upper()} {path}`" in page, (method, path)
    for name in document["components"]["schemas"]:
        assert f"### {name} {{#schema-{name.lower()}}}" in page, name


def test_the_architecture_page_lists_every_script_and_every_module_in_its_group():
    scripts = hooks.scripts_markdown()
    for path in ROOT.glob("*.py"):
        assert f"| `{path.name}` |" in scripts, path.name
    package = hooks.package_markdown()
    for folder, _ in hooks.package_groups():
        section = package.split(f"### `{folder}`", 1)[1].split("### ", 1)[0]
        for path in (ROOT / folder).glob("*.py"):
            if path.name != "__init__.py":
                assert f"| `{path.name}` | {hooks.cell(hooks.summary_line(path))} |" in section, path


def test_a_module_in_no_group_stops_the_build_naming_it(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "risk", tmp_path / "risk", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "risk" / "stray").mkdir()
    (tmp_path / "risk" / "stray" / "thing.py").write_text('"""A module nobody placed."""\n')
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    with pytest.raises(hooks.GeneratedPageError, match="risk/stray/thing.py is in no group"):
        hooks.package_markdown()


def test_every_page_in_docs_is_in_the_nav_and_every_nav_entry_exists():
    nav = nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages


def test_the_readmes_links_into_docs_reach_a_page_and_heading():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", readme)
    assert len(links) >= 10
    for target, anchor in links:
        assert (ROOT / target).is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.+?)\s*$", (ROOT / target).read_text(), re.M)
            assert anchor in {slugify(h.replace("`", ""), "-") for h in headings}, (target, anchor)


@pytest.mark.slow
def test_the_manual_builds_strictly_with_the_generated_pages(tmp_path):
    result = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    configuration = (tmp_path / "site" / "configuration.html").read_text()
    for key in ALL_KEYS:
        assert f"<code>{key}</code>" in configuration, key
    reference = (tmp_path / "site" / "api-reference.html").read_text()
    assert "<code>POST /prediction</code>" in reference


@pytest.mark.slow
def test_a_dead_link_fails_the_strict_build(tmp_path):
    # A copy of the pages with two dead links, built by this checkout's mkdocs.yml and hooks.
    shutil.copytree(DOCS, tmp_path / "docs")
    with open(tmp_path / "docs" / "data.md", "a") as f:
        f.write("\nSee [the old page](gone.md) and [a heading](managers.md#no-such-heading).\n")
    settings = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    settings |= {"docs_dir": str(tmp_path / "docs"), "hooks": [str(DOCS / "hooks.py")]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(settings))
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "'gone.md', but the target is not found" in result.stderr
    assert "does not contain an anchor '#no-such-heading'" in result.stderr
