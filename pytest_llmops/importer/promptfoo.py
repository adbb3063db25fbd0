"""A promptfoo config (``promptfooconfig.yaml``) as a pytest-llmops suite, prompt files and data.

``import_promptfoo(config, out)`` writes into ``out``: one versioned prompt file per prompt
(``prompts/NAME-1.0.0.yaml``), a suite (``test_NAME.llmops.yaml``), the data files the tests
read (CSV files that need no change are copied as they are; others are rewritten as YAML), the
files that ``file://`` values name, ``checks.py`` with what has no equivalent (failing stubs),
and for a Python provider, a small adapter from promptfoo's ``call_api`` to ``python:``. It
returns what it could not translate and the choices it made; the command prints both.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import SuiteError
from ..spec.datasets import DATA_SUFFIXES, iter_data_file
from ..spec.files import file_ref
from ..spec.yamlio import load_yaml_file
from .checks import CHECKS_FILE, MODEL_GRADED, Checks, Translation

__all__ = ["DEFAULT_EMBEDDING", "DEFAULT_GRADER", "Imported", "import_promptfoo"]

#: promptfoo grades with these when a config names no grader; the suite names them explicitly.
DEFAULT_GRADER = "openai:gpt-4.1-2025-04-14"
DEFAULT_EMBEDDING = "openai:text-embedding-3-large"
_PROMPTFOO_APIS = ("chat:", "messages:", "completion:", "responses:")
_MODEL_PARAMS = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "response_format": "response_format",
    "tools": "tools",
    "tool_choice": "tool_choice",
}
_CONNECTION = {"apiBaseUrl": "base_url", "apiHost": "base_url", "apiKeyEnvar": "api_key_env"}
_SECRETS = frozenset({"apiKey", "api_key"})
_TEXT_PROMPTS = frozenset({".txt", ".md", ".j2", ".jinja", ".prompt", ""})
_IGNORED_TOP = frozenset(
    {"sharing", "outputPath", "evaluateOptions", "env", "commandLineOptions", "writeLatestResults"}
)
_SHIM = "llmops_providers.py"
_SHIM_HEAD = '''"""python: providers imported from promptfoo: each calls a promptfoo
`call_api(prompt, options, context)` and returns its answer the way pytest-llmops reads it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_HERE = Path(__file__).parent
_MODULES = {}


def _module(file: str):
    if file not in _MODULES:
        spec = importlib.util.spec_from_file_location(f"promptfoo_provider_{Path(file).stem}", _HERE / file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[file] = module
    return _MODULES[file]


def _call_api(file: str, function: str, prompt, vars, config):
    module = _module(file)
    messages = [{"role": m.role, "content": m.content} for m in prompt.messages]
    # promptfoo passes the rendered prompt text; a chat prompt as its messages in JSON.
    text = messages[0]["content"] if len(messages) == 1 else json.dumps(messages)
    result = getattr(module, function)(text, {"config": config}, {"vars": dict(vars)})
    if result.get("error"):
        raise RuntimeError(f"the promptfoo provider returned an error: {result['error']}")
    output = result.get("output")
    usage = result.get("tokenUsage") or {}
    return {
        "text": output if isinstance(output, str) else json.dumps(output),
        "usage": {"input_tokens": usage.get("prompt", 0), "output_tokens": usage.get("completion", 0)},
        "cost_usd": result.get("cost"),
    }
'''


@dataclass
class Imported:
    """What an import wrote, what it could not translate, and the choices it made."""

    out: Path
    files: list[Path] = field(default_factory=list)
    report: Translation = field(default_factory=Translation)

    def summary(self) -> str:
        """The report the command prints."""
        lines = [f"wrote {len(self.files)} file(s) into {self.out}:"]
        lines += [f"  {p.relative_to(self.out).as_posix()}" for p in self.files]
        if self.report.untranslated:
            lines.append(
                f"could not translate ({len(self.report.untranslated)}): each is a failing stub or left out"
            )
            lines += [f"  - {item}" for item in self.report.untranslated]
        if self.report.notes:
            lines.append(f"notes ({len(self.report.notes)}):")
            lines += [f"  - {item}" for item in self.report.notes]
        return "\n".join(lines)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _slug(text: str, fallback: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:60]
    return slug or fallback


def _unique(name: str, taken: set[str]) -> str:
    unique, number = name, 1
    while unique in taken:
        number += 1
        unique = f"{name}-{number}"
    taken.add(unique)
    return unique


class _Importer:
    def __init__(self, config: Path, out: Path) -> None:
        self.config = config
        self.base = config.parent
        self.out = out
        self.result = Imported(out)
        self.report = self.result.report
        self.checks = Checks(self.report, self.copy, self.read)
        self.copied: dict[Path, str] = {}
        self.shims: list[str] = []
        #: A provider or test asks for structured output (promptfoo then parses the output).
        self.parsed_output = False

    # --- files ---------------------------------------------------------------------------------

    def source(self, reference: str) -> Path:
        ref = file_ref(reference) if reference.startswith("file://") else reference
        path = Path(ref or "")
        return path if path.is_absolute() else self.base / path

    def read(self, reference: str) -> str:
        return self.source(reference).read_text(encoding="utf-8")

    def copy(self, reference: str) -> str:
        """Copy the file ``reference`` names into the suite's folder; its path relative to the suite."""
        source = self.source(reference).resolve()
        if source in self.copied:
            return self.copied[source]
        try:
            relative = source.relative_to(self.base.resolve()).as_posix()
        except ValueError:
            relative = f"files/{source.name}"
        target = self.out / relative
        if not source.is_file():
            self.report.untranslated.append(f"{reference}: the file does not exist; the reference is kept")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            self.result.files.append(target)
        self.copied[source] = relative
        return relative

    def write(self, relative: str, text: str) -> None:
        target = self.out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        self.result.files.append(target)

    # --- prompts -------------------------------------------------------------------------------

    def prompts(self, value: Any) -> list[str]:
        entries = value if isinstance(value, list) else [] if value is None else [value]
        if not entries:
            raise SuiteError("the config has no `prompts:`", path=self.config)
        taken: set[str] = set()
        refs = []
        for index, entry in enumerate(entries):
            for label, prompt in self._prompt_entries(entry, f"prompts[{index}]"):
                name = _unique(_slug(label, "prompt"), taken)
                document = {"name": name, "version": "1.0.0", **prompt}
                self.write(f"prompts/{name}-1.0.0.yaml", _dump(document))
                refs.append(f"{name}@1.0.0")
        if not refs:
            raise SuiteError("no prompt of the config could be translated", path=self.config)
        return refs

    def _prompt_entries(self, entry: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(entry, Mapping):
            label = str(entry.get("label") or "")
            raw = entry.get("raw", entry.get("id"))
            if not isinstance(raw, str):
                self.report.untranslated.append(f"{where}: a prompt without `raw` or `id`; left out")
                return
            for found_label, prompt in self._prompt_entries(raw, where):
                yield label or found_label, prompt
            return
        if not isinstance(entry, str):
            self.report.untranslated.append(f"{where}: a prompt of type {type(entry).__name__}; left out")
            return
        if not entry.startswith("file://"):
            yield "prompt", self._prompt_text(entry, where)
            return
        path_text = entry[len("file://") :].partition(":")[0]
        paths = (
            sorted(self.base.glob(path_text))
            if any(c in path_text for c in "*?[")
            else [self.base / path_text]
        )
        for path in paths:
            suffix = path.suffix.lower()
            if suffix in (".py", ".js", ".ts", ".cjs", ".mjs"):
                self.report.untranslated.append(
                    f"{where}: prompt function {path.name} has no equivalent; left out"
                )
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                self.report.untranslated.append(f"{where}: cannot read {path.name}: {exc.strerror}; left out")
                continue
            if suffix in (".json", ".yaml", ".yml"):
                data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
                if isinstance(data, list):
                    yield path.stem, {"messages": self._messages(data, where)}
                    continue
                text = data if isinstance(data, str) else text
            parts = (
                [p for p in re.split(r"\n-{3,}\n", text) if p.strip()] if suffix in _TEXT_PROMPTS else [text]
            )
            for number, part in enumerate(parts, 1):
                yield (
                    (path.stem if len(parts) == 1 else f"{path.stem}-{number}"),
                    self._prompt_text(part, where),
                )

    def _prompt_text(self, text: str, where: str) -> dict[str, Any]:
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                data = json.loads(stripped)
            except ValueError:
                data = None
            if isinstance(data, list) and all(isinstance(m, Mapping) and "role" in m for m in data):
                return {"messages": self._messages(data, where)}
        return {"user": self._template(text, where)}

    def _messages(self, data: list[Any], where: str) -> list[dict[str, Any]]:
        messages = []
        for message in data:
            if not isinstance(message, Mapping) or message.get("role") not in ("system", "user", "assistant"):
                self.report.untranslated.append(
                    f"{where}: a message that is not system/user/assistant; left out"
                )
                continue
            content = message.get("content")
            if isinstance(content, str):
                content = self._template(content, where)
            messages.append({"role": message["role"], "content": content})
        return messages

    def _template(self, text: str, where: str) -> str:
        # Nunjucks and Jinja2 agree on {{ var }}, filters and {% if %}; `dump` is Jinja's `tojson`.
        changed = re.sub(r"\|\s*dump\b", "| tojson", text)
        if changed != text:
            self.report.notes.append(f"{where}: the nunjucks filter `dump` became Jinja's `tojson`")
        return changed

    # --- providers -----------------------------------------------------------------------------

    def providers(self, value: Any) -> list[Any]:
        entries = value if isinstance(value, list) else [] if value is None else [value]
        out: list[Any] = []
        labels: set[str] = set()
        for index, entry in enumerate(entries):
            provider = self.provider(entry, f"providers[{index}]")
            if provider is None:
                continue
            display = provider if isinstance(provider, str) else provider.get("label") or provider["id"]
            if display in labels:  # the same id with other settings: tell them apart
                unique = _unique(display, labels)
                provider = {"id": provider} if isinstance(provider, str) else provider
                provider["label"] = unique
            labels.add(display)
            out.append(provider)
        if not out:
            raise SuiteError("no provider of the config could be translated", path=self.config)
        return out

    def provider_id(self, raw: str, where: str) -> str | None:
        kind, _, model = raw.partition(":")
        for api in _PROMPTFOO_APIS:
            if model.startswith(api):
                if api in ("completion:", "responses:"):
                    self.report.notes.append(
                        f"{where}: {raw!r} uses OpenAI's {api[:-1]} API; it runs on chat completions here"
                    )
                model = model[len(api) :]
        if kind in ("openai", "anthropic"):
            return f"{kind}:{model}"
        self.report.untranslated.append(f"{where}: provider {raw!r} has no equivalent; left out")
        return None

    def provider(self, entry: Any, where: str) -> Any:
        if isinstance(entry, str):
            entry = {"id": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            self.report.untranslated.append(f"{where}: a provider without an `id`; left out")
            return None
        raw = entry["id"]
        config = _mapping(entry.get("config"))
        if raw.startswith("file://") or raw.startswith("python:"):
            return self._python_provider(raw, entry, config, where)
        provider_id = self.provider_id(raw, where)
        if provider_id is None:
            return None
        out: dict[str, Any] = {"id": provider_id}
        if entry.get("label"):
            out["label"] = str(entry["label"])
        params: dict[str, Any] = {}
        for key, value in config.items():
            if key in _SECRETS:
                self.report.notes.append(
                    f"{where}: `{key}` is not written to the suite; set the key's environment variable"
                )
            elif key in _MODEL_PARAMS:
                self._notice_structured(key, value)
                ref = file_ref(value)
                out[_MODEL_PARAMS[key]] = f"file://{self.copy(value)}" if ref is not None else value
            elif key in _CONNECTION:
                out[_CONNECTION[key]] = value
            else:
                params[key] = value
        if params:
            out["params"] = params
        for key in sorted(set(entry) - {"id", "label", "config"}):
            self.report.notes.append(f"{where}: the provider's `{key}` is not translated; left out")
        return out if len(out) > 1 else provider_id

    def _notice_structured(self, key: str, value: Any) -> None:
        if key != "response_format":
            return
        if file_ref(value) is not None:
            try:
                value = json.loads(self.read(value))
            except (OSError, ValueError):
                return
        if isinstance(value, Mapping) and value.get("type") == "json_schema":
            self.parsed_output = True

    def _python_provider(
        self, raw: str, entry: Mapping[str, Any], config: Mapping[str, Any], where: str
    ) -> Any:
        target = raw.removeprefix("file://").removeprefix("python:")
        path, _, function = target.partition(":")
        if not path.endswith(".py"):
            self.report.untranslated.append(f"{where}: provider {raw!r} has no equivalent; left out")
            return None
        copied = self.copy(f"file://{path}")
        number = len(self.shims) + 1
        settings = json.loads(json.dumps(dict(config)))
        self.shims.append(
            f"def call_{number}(prompt, vars):\n"
            f"    return _call_api({copied!r}, {(function or 'call_api')!r}, prompt, vars, {settings!r})\n"
        )
        label = str(entry.get("label") or raw)
        self.report.notes.append(
            f"{where}: promptfoo's Python provider {raw!r} is called through {_SHIM}:call_{number}"
        )
        return {"id": f"python:{_SHIM}:call_{number}", "label": label}

    # --- tests ---------------------------------------------------------------------------------

    def grader(self, options: Any) -> Any:
        if isinstance(options, Mapping) and options.get("provider") is not None:
            provider = options["provider"]
            if isinstance(provider, str):
                return self.provider_id(provider, "defaultTest.options.provider") or provider
            if isinstance(provider, Mapping) and isinstance(provider.get("id"), str):
                return self.provider(provider, "defaultTest.options.provider")
        return None

    def case(self, test: Any, where: str, grader: Any) -> list[dict[str, Any]]:
        """One promptfoo test as cases (one per combination of its list-valued variables)."""
        if not isinstance(test, Mapping):
            self.report.untranslated.append(f"{where}: a test that is not a mapping; left out")
            return []
        out: dict[str, Any] = {}
        if test.get("description"):
            out["description"] = str(test["description"])
        variables = test.get("vars") or {}
        if isinstance(variables, str) and variables.startswith("file://"):
            variables = yaml.safe_load(self.read(variables)) or {}
        options = _mapping(test.get("options"))
        # A test's own grader (options.provider) goes on its model-graded checks; the default
        # grader is the suite's `judge:`.
        own_grader = self.grader(options)
        checks = test.get("assert") or []
        out["assert"] = [self.assertion(a, f"{where}.assert[{i}]", own_grader) for i, a in enumerate(checks)]
        if not out["assert"]:
            del out["assert"]
        if options.get("transform") is not None:
            out["transform"] = self.checks.transform(options["transform"], f"{where}.options.transform")
        sent = {k: v for k, v in options.items() if k in _MODEL_PARAMS}
        if sent:
            out["options"] = {
                k: (f"file://{self.copy(v)}" if file_ref(v) is not None else v) for k, v in sent.items()
            }
        for key in sorted(set(options) - {"transform", "provider", *_MODEL_PARAMS}):
            self.report.untranslated.append(f"{where}: `options.{key}` is not translated; left out")
        if test.get("threshold") is not None:
            out["threshold"] = test["threshold"]
        if isinstance(test.get("metadata"), Mapping):
            out["metadata"] = dict(test["metadata"])
        if test.get("assertScoringFunction") is not None:
            out["scoring"] = self.checks.scoring(
                test["assertScoringFunction"], f"{where}.assertScoringFunction"
            )
        for key in sorted(
            set(test)
            - {"description", "vars", "assert", "options", "threshold", "metadata", "assertScoringFunction"}
        ):
            self.report.untranslated.append(f"{where}: `{key}` of a test is not translated; left out")
        head = {k: out.pop(k) for k in ("description",) if k in out}
        return [
            {**head, "vars": v, **out} if v else {**head, **out} for v in self._expanded(variables, where)
        ]

    def _expanded(self, variables: Any, where: str) -> list[dict[str, Any]]:
        if not isinstance(variables, Mapping):
            self.report.untranslated.append(f"{where}: `vars` that is not a mapping; left out")
            return [{}]
        values = {
            k: (f"file://{self.copy(v)}" if file_ref(v) is not None else v) for k, v in variables.items()
        }
        lists = {k: v for k, v in values.items() if isinstance(v, list)}
        if not lists:
            return [values]
        # promptfoo runs a test once per combination of its list-valued variables.
        self.report.notes.append(
            f"{where}: list-valued vars ({', '.join(lists)}) became one case per combination"
        )
        keys = list(lists)
        return [
            {**values, **dict(zip(keys, combo, strict=True))} for combo in itertools.product(*lists.values())
        ]

    def assertion(self, spec: Any, where: str, grader: Any) -> dict[str, Any]:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
            self.report.untranslated.append(
                f"{where}: an assertion without a `type`; a failing stub stands in"
            )
            spec = {"type": "not-a-type", "value": spec}
        base = spec["type"].removeprefix("not-")
        value = spec.get("value")
        translated = self.checks.assertion(spec, where, grader)
        if file_ref(value) is not None and base not in ("python", "javascript"):
            translated["value"] = f"file://{self.copy(value)}"
        return translated

    def tests(self, value: Any, grader: Any) -> list[Any]:
        entries = value if isinstance(value, list) else [] if value is None else [value]
        out: list[Any] = []
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                out.extend(self._data_files(entry, f"tests[{index}]", grader))
            else:
                out.extend(self.case(entry, f"tests[{index}]", grader))
        return out

    def _data_files(self, reference: str, where: str, grader: Any) -> list[str]:
        path_text = reference.removeprefix("file://")
        paths = (
            sorted(self.base.glob(path_text))
            if any(c in path_text for c in "*?[")
            else [self.base / path_text]
        )
        out = []
        for path in paths:
            if path.suffix.lower() not in DATA_SUFFIXES or not path.is_file():
                self.report.untranslated.append(
                    f"{where}: data file {path.name} cannot be read here; left out"
                )
                continue
            out.append(self._data_file(path, where, grader))
        return out

    def _data_file(self, path: Path, where: str, grader: Any) -> str:
        try:
            relative = path.resolve().relative_to(self.base.resolve()).as_posix()
        except ValueError:
            relative = f"files/{path.name}"
        if path.suffix.lower() == ".csv":
            rows = [raw.data for raw in iter_data_file(path)]
            cases = [
                case
                for i, row in enumerate(rows)
                for case in self.case(row, f"{path.name} row {i + 1}", grader)
            ]
            if cases == rows:
                return f"file://{self.copy(f'file://{path}')}"  # promptfoo's columns are read as they are
        else:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.suffix.lower() != ".jsonl" else [
                json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            ]  # fmt: skip
            rows = data if isinstance(data, list) else []
            cases = [
                case
                for i, row in enumerate(rows)
                for case in self.case(row, f"{path.name} row {i + 1}", grader)
            ]
        rewritten = str(Path(relative).with_suffix("")) + ".llmops-data.yaml"
        self.write(rewritten, _dump(cases))
        self.report.notes.append(
            f"{where}: {path.name} was rewritten as {rewritten} (its checks needed translating)"
        )
        return f"file://{rewritten}"

    # --- the suite -----------------------------------------------------------------------------

    def run(self) -> Imported:
        data, _ = load_yaml_file(self.config) if self.config.suffix != ".json" else (
            json.loads(self.config.read_text(encoding="utf-8")), None
        )  # fmt: skip
        if not isinstance(data, Mapping):
            raise SuiteError("a promptfoo config is a mapping (prompts, providers, tests)", path=self.config)
        for key in sorted(set(data) & _IGNORED_TOP):
            self.report.notes.append(f"`{key}` configures promptfoo itself; left out")
        for key in sorted(
            set(data)
            - _IGNORED_TOP
            - {"description", "prompts", "providers", "targets", "defaultTest", "tests"}
        ):
            self.report.untranslated.append(f"`{key}` is not translated; left out")
        suite: dict[str, Any] = {}
        if data.get("description"):
            suite["description"] = str(data["description"])
        refs = self.prompts(data.get("prompts"))
        suite["prompt"] = refs if len(refs) > 1 else refs[0]
        providers = self.providers(data.get("providers", data.get("targets")))
        suite["provider"] = providers if len(providers) > 1 else providers[0]
        default = _mapping(data.get("defaultTest"))
        grader = self.grader(default.get("options"))
        defaults = self._defaults(default)
        tests = self.tests(data.get("tests"), None)
        if not tests:
            raise SuiteError("the config has no tests that could be translated", path=self.config)
        if not defaults.get("assert"):
            for case in tests:
                if isinstance(case, dict) and not case.get("assert"):
                    # Without a check a case could never fail; an answer, at least, is required.
                    case["assert"] = [{"type": "min-length", "value": 1}]
                    shown = case.get("description") or case.get("vars")
                    self.report.notes.append(
                        f"case {shown} had no assertions; it checks that there is an answer (min-length: 1)"
                    )
        used = set(_types([defaults, tests]))
        if grader is not None:
            suite["judge"] = grader
        elif used & MODEL_GRADED:
            suite["judge"] = DEFAULT_GRADER
            self.report.notes.append(
                f"model-graded checks are judged by {DEFAULT_GRADER}, promptfoo's default grader"
            )
        if "similar" in used:
            suite["embedding"] = DEFAULT_EMBEDDING
            self.report.notes.append(f"`similar` embeds with {DEFAULT_EMBEDDING}, promptfoo's default")
        if self.parsed_output and "transform" not in defaults:
            # promptfoo hands a structured output to the checks parsed; so does this transform.
            defaults["transform"] = "json.loads(output)"
            self.report.notes.append(
                "structured output (a json_schema response_format) is parsed before the checks, as promptfoo"
                " does: defaults.transform: json.loads(output)"
            )
        if defaults:
            suite["defaults"] = defaults
        suite["tests"] = tests
        if self.shims:
            self.write(_SHIM, _SHIM_HEAD + "\n\n" + "\n\n".join(self.shims))
        checks = self.checks.source()
        if checks is not None:
            self.write(CHECKS_FILE, checks)
        stem = self.config.parent.name if self.config.stem == "promptfooconfig" else self.config.stem
        name = "test_" + re.sub(r"\W+", "_", stem).strip("_").lower() + ".llmops.yaml"
        self.write(name, self._header() + _dump(suite))
        return self.result

    def _defaults(self, default: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if isinstance(default.get("vars"), Mapping):
            out["vars"] = self._expanded(default["vars"], "defaultTest.vars")[0]
        checks = default.get("assert") or []
        if checks:
            out["assert"] = [
                self.assertion(a, f"defaultTest.assert[{i}]", None) for i, a in enumerate(checks)
            ]
        options = _mapping(default.get("options"))
        if options.get("transform") is not None:
            out["transform"] = self.checks.transform(options["transform"], "defaultTest.options.transform")
        sent = {k: v for k, v in options.items() if k in _MODEL_PARAMS}
        if sent:
            out["options"] = sent
        if default.get("threshold") is not None:
            out["threshold"] = default["threshold"]
        if default.get("assertScoringFunction") is not None:
            out["scoring"] = self.checks.scoring(
                default["assertScoringFunction"], "defaultTest.assertScoringFunction"
            )
        return out

    def _header(self) -> str:
        lines = [f"# Imported from {self.config.name} by `python -m pytest_llmops import-promptfoo`."]
        for title, items in (("Not translated", self.report.untranslated), ("Notes", self.report.notes)):
            if items:
                lines.append(f"# {title}:")
                lines += [f"#   - {item}" for item in items]
        return "\n".join(lines) + "\n"


def _types(value: Any) -> Iterator[str]:
    """The base type of every assertion in a part of the suite (assert-set members included)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("type"), str):
            yield value["type"].removeprefix("not-")
        for item in value.values():
            yield from _types(item)
    elif isinstance(value, list):
        for item in value:
            yield from _types(item)


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def import_promptfoo(config: Path, out: Path) -> Imported:
    """Translate the promptfoo config at ``config`` into files under ``out`` (see the module)."""
    return _Importer(config, out).run()
