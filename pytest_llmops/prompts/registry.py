"""Versioned prompt files and the registry that resolves references to them.

A prompt file names itself (``name``) and a semantic ``version``. A reference is ``name``,
``name@latest``, ``name@2.1.0`` or a range (``name@^2.1``, ``name@~2.1.3``, ``name@>=2,<3``);
the highest matching version wins, never the newest file.

Templates render in Jinja2's sandbox (``render``) with undefined variables as errors.

This module does not import pytest: applications load the same prompts the suites approved::

    registry = PromptRegistry.from_dir("prompts")
    messages = registry.get("customer-support", "^2").render(customer_message="Hi").to_messages()
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from ..errors import (
    InvalidRangeError,
    InvalidVersionError,
    PromptConflictError,
    PromptNotFoundError,
    PromptRenderError,
    SuiteError,
)
from ..results import Message
from ..spec.files import file_ref, load_value_file
from ..spec.schema import PromptFileSpec
from ..spec.validation import parse_model, suggest
from ..spec.yamlio import load_yaml_file
from .render import RenderedPrompt, compile_template, message_templates, render_message, template_variables
from .versions import Version, VersionRange, max_satisfying

__all__ = [
    "Prompt",
    "PromptRegistry",
    "load_prompt_dir",
    "load_prompt_file",
    "split_reference",
]

PROMPT_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Prompt:
    """One version of a prompt, loaded from its file."""

    name: str
    version: Version
    messages: tuple[Message, ...]
    path: Path
    description: str | None = None
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: sha256 of the file's parsed content: formatting and comments do not change it.
    content_hash: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def variables(self) -> frozenset[str]:
        """Every variable the templates read."""
        out: set[str] = set()
        for message in self.messages:
            for text in message_templates(message):
                out |= template_variables(text)
        return frozenset(out)

    def render(
        self, variables: Mapping[str, Any] | None = None, /, *, case: str | None = None, **kwargs: Any
    ) -> RenderedPrompt:
        """Render the templates; an undefined variable names itself, the prompt and the case."""
        values = {**(variables or {}), **kwargs}
        rendered = []
        for message in self.messages:
            try:
                rendered.append(render_message(message, values))
            except jinja2.UndefinedError as exc:
                raise PromptRenderError(self._render_message(str(exc), message.role, values, case)) from None
            except SecurityError as exc:
                raise PromptRenderError(
                    f"prompt {self.ref} ({self.path}): the {message.role} template tried something "
                    f"the sandbox forbids: {exc}. Templates may read variables, not Python internals."
                ) from None
            except jinja2.TemplateError as exc:
                raise PromptRenderError(
                    f"prompt {self.ref} ({self.path}): the {message.role} template failed: {exc}"
                ) from None
        return RenderedPrompt(tuple(rendered), self.model, self.params, self.name, str(self.version), values)

    def _render_message(self, problem: str, role: str, values: Mapping[str, Any], case: str | None) -> str:
        given = ", ".join(sorted(values)) or "none"
        where = f" for case {case}" if case else ""
        return (
            f"prompt {self.ref} ({self.path}): {problem} in the {role} message{where}. "
            f"Variables given: {given}. Add it to the case's `vars:` (or the suite's `vars:`)."
        )


def _canonical_hash(data: Any) -> str:
    plain = _text_keys(data)
    text = json.dumps(plain, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text_keys(value: Any) -> Any:
    """Mapping keys as text: YAML allows `0:` beside `a:`, and mixed keys cannot be sorted."""
    if isinstance(value, dict):
        return {str(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_keys(v) for v in value]
    return value


def load_prompt_file(path: Path) -> Prompt:
    """Load and validate one prompt file."""
    data, lines = load_yaml_file(path)
    spec = parse_model(PromptFileSpec, data, lines, path, "prompt file")
    try:
        version = Version.parse(spec.version)
    except InvalidVersionError as exc:
        raise SuiteError(f"version: {exc}", path=path, line=lines.line(("version",))) from None
    if spec.messages is not None:
        messages = tuple(
            Message(m.role, m.content) if isinstance(m.content, str) else Message.of_parts(m.role, m.content)
            for m in spec.messages
        )
    else:
        pairs = (("system", spec.system), ("user", spec.user))
        messages = tuple(Message(role, text) for role, text in pairs if text is not None)
    for message in messages:
        for text in message_templates(message):
            try:
                compile_template(text)
            except jinja2.TemplateSyntaxError as exc:
                raise SuiteError(
                    f"the {message.role} template is not valid Jinja2: {exc.message}", path=path
                ) from None
    params = spec.model_params()
    for key in ("response_format", "tools"):
        ref = file_ref(params.get(key))
        if ref is not None:
            try:
                params[key] = load_value_file(ref, path.parent, what=f"`{key}`")
            except SuiteError as exc:
                raise SuiteError(exc.bare_message, path=path, line=lines.line((key,))) from None
            _check_loaded(params[key], key, path, lines.line((key,)))
    return Prompt(
        name=spec.name,
        version=version,
        messages=messages,
        path=path,
        description=spec.description,
        model=spec.model,
        params=params,
        metadata=spec.metadata,
        content_hash=_canonical_hash(data),
    )


def _check_loaded(value: Any, key: str, path: Path, line: int | None) -> None:
    wanted = dict if key == "response_format" else list
    if not isinstance(value, wanted):
        kind = "a mapping" if wanted is dict else "a list"
        raise SuiteError(
            f"`{key}`: the file must hold {kind}, not a {type(value).__name__}", path=path, line=line
        )


def split_reference(reference: str) -> tuple[str, str]:
    """``"name@^2.1"`` -> ``("name", "^2.1")``; a bare name means ``latest``."""
    name, _, spec = reference.strip().partition("@")
    return name.strip(), (spec.strip() or "latest")


class PromptRegistry:
    """Every version of every prompt found in some folders."""

    def __init__(self, prompts: Iterable[Prompt] = ()) -> None:
        self._prompts: dict[str, dict[Version, Prompt]] = {}
        for prompt in prompts:
            self.add(prompt)

    @classmethod
    def from_dir(cls, *dirs: str | Path) -> PromptRegistry:
        """Load every ``*.yaml``/``*.yml`` below the given folders."""
        registry = cls()
        for directory in dirs:
            for prompt in load_prompt_dir(Path(directory)):
                registry.add(prompt)
        return registry

    def add(self, prompt: Prompt) -> None:
        """Add a prompt; the same name and version with other content is a conflict."""
        versions = self._prompts.setdefault(prompt.name, {})
        existing = versions.get(prompt.version)
        if existing is not None and existing.content_hash != prompt.content_hash:
            raise PromptConflictError(
                f"prompt {prompt.ref} is defined twice with different content: {existing.path} and "
                f"{prompt.path}. Give one of them a new version (or a new name)."
            )
        if existing is None:
            versions[prompt.version] = prompt

    def names(self) -> list[str]:
        return sorted(self._prompts)

    def versions(self, name: str) -> list[str]:
        """The versions of a prompt, ascending."""
        return [str(v) for v in sorted(self._prompts.get(name, {}))]

    def __iter__(self) -> Any:
        for name in self.names():
            yield from (self._prompts[name][v] for v in sorted(self._prompts[name]))

    def __len__(self) -> int:
        return sum(len(v) for v in self._prompts.values())

    def get(self, name: str, spec: str | VersionRange = "latest") -> Prompt:
        """The highest version of ``name`` matching ``spec``."""
        versions = self._prompts.get(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise PromptNotFoundError(
                f"no prompt named {name!r}.{suggest(name, self.names())} Prompts found: {known}."
            )
        try:
            chosen = max_satisfying(versions, spec)
        except InvalidRangeError as exc:
            raise PromptNotFoundError(f"{name}@{spec}: {exc}") from None
        if chosen is None:
            raise PromptNotFoundError(
                f"no version of {name!r} matches {str(spec)!r}; "
                f"versions that exist: {', '.join(self.versions(name))}."
            )
        return versions[chosen]

    def resolve(self, reference: str) -> Prompt:
        """Resolve ``name``, ``name@latest``, ``name@2.1.0`` or ``name@<range>``."""
        name, spec = split_reference(reference)
        return self.get(name, spec)


def load_prompt_dir(directory: Path) -> list[Prompt]:
    """Every prompt file below a folder, in a stable order."""
    if not directory.is_dir():
        return []
    files = sorted(p for p in directory.rglob("*") if p.suffix in PROMPT_SUFFIXES and p.is_file())
    return [load_prompt_file(p) for p in files]
