"""The package claims only what CI tests: one classifier, one tox env and one CI interpreter per
supported Python, the license it ships, a description the package index can show, the project's
own needs as dependency groups, and pinned pre-commit hooks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def supported_minors() -> list[int]:
    """3.X from the classifiers, e.g. [11, 12, 13]."""
    classifiers = pyproject()["project"]["classifiers"]
    return sorted(
        int(m.group(1))
        for c in classifiers
        if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))
    )


def test_requires_python_starts_at_the_lowest_classifier() -> None:
    minors = supported_minors()
    assert minors == list(range(minors[0], minors[-1] + 1)), "no gap between the supported versions"
    assert pyproject()["project"]["requires-python"] == f">=3.{minors[0]}"


def test_every_supported_python_has_a_tox_env_and_a_ci_run() -> None:
    envlist = re.search(r"^envlist\s*=\s*(.+)$", (ROOT / "tox.ini").read_text(), flags=re.M)
    assert envlist is not None
    envs = [e.strip() for e in envlist.group(1).split(",")]
    assert [e for e in envs if re.fullmatch(r"py3\d+", e)] == [f"py3{m}" for m in supported_minors()]
    assert "lowest" in envs
    lowest = re.search(
        r"\[testenv:lowest\][^\[]*?base_python = python3\.(\d+)", (ROOT / "tox.ini").read_text()
    )
    assert lowest is not None and int(lowest.group(1)) == supported_minors()[0], (
        "lowest versions, lowest Python"
    )
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip(".ci/run is not in the sdist")
    loop = re.search(r"^for minor in ([\d ]+); do$", ci.read_text(), flags=re.M)
    assert loop is not None and [int(m) for m in loop.group(1).split()] == supported_minors()


def test_the_license_is_the_spdx_expression_and_the_file_ships() -> None:
    project = pyproject()["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert not [c for c in project["classifiers"] if c.startswith("License ::")], "SPDX replaces them"


def test_the_package_description_needs_no_relative_image_or_link() -> None:
    """The package index shows the description alone: nothing in it may point into the repository."""
    readme = pyproject()["project"]["readme"]
    text = (ROOT / readme).read_text(encoding="utf-8")
    assert "<img" not in text.lower()
    targets = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)", text)
    assert [t for t in targets if not t.startswith("https://")] == []
    assert not re.search(r"!\[", text), "no image: the index cannot show the repository's screenshots"


def test_no_project_url_is_made_up() -> None:
    # There is no public repository or documentation site yet: add [project.urls] when there is.
    for url in pyproject()["project"].get("urls", {}).values():
        assert url.startswith("https://") and "example" not in url


def test_tests_and_lint_are_dependency_groups_not_extras() -> None:
    data = pyproject()
    extras = data["project"]["optional-dependencies"]
    assert not {"test", "lint", "dev", "ci"} & set(extras)
    assert {"test", "lint", "ci"} <= set(data["dependency-groups"])


def test_the_sdist_carries_what_the_tests_need() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text()
    assert re.search(r"^graft tests$", manifest, flags=re.M)
    for needed in ("conftest.py", "helpers.py", "__init__.py", "data"):
        assert (ROOT / "tests" / needed).exists()


def test_pre_commit_hooks_come_from_their_projects_pinned_to_a_release() -> None:
    path = ROOT / ".pre-commit-config.yaml"
    if not path.exists():
        pytest.skip(".pre-commit-config.yaml is not in the sdist")
    config = yaml.safe_load(path.read_text())
    repos = {r["repo"]: r for r in config["repos"]}
    assert set(repos) == {
        "https://github.com/astral-sh/ruff-pre-commit",
        "https://github.com/pre-commit/mirrors-mypy",
    }
    for repo in repos.values():
        assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", repo["rev"]), repo["rev"]
    hooks = {h["id"] for r in repos.values() for h in r["hooks"]}
    assert hooks == {"ruff-check", "ruff-format", "mypy"}
