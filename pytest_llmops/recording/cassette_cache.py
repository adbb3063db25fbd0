"""Cassettes parsed once: vcrpy's YAML loader, and a cache of its output keyed by the file's bytes.

Reading a cassette's YAML builds its objects in Python (libyaml only parses), about half a
millisecond per cassette: the largest cost of a replay. ``load_cassette_document`` parses with
the same loader vcrpy uses (libyaml's safe loader with vcrpy's few Python tags) and, when given
a folder (pytest's cache, ``.pytest_cache/d/llmops-cassettes``), keeps what the loader returned
there in ``marshal`` form under the SHA-256 of the file's bytes:

- the key is the content, never the name, size or time: any edit, a re-recording or a
  ``git checkout`` gives a new key, so a stale recording is never served;
- an entry holds the loader's output only (checking the document's shape and scrubbing its
  requests run on every load), under a folder named for the format and PyYAML's version;
- an entry carries a digest of its key and payload: a torn, truncated or renamed entry is
  ignored and rewritten; the cache is never needed (a read-only or missing folder only costs
  the parse);
- documents with values ``marshal`` cannot hold (timestamps) are parsed every time.

Entries are not pruned: each is about the size of its cassette; delete the folder (or run
``pytest --cache-clear``) to reclaim them.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CACHE_FORMAT", "CassetteLoader", "load_cassette_document"]

try:  # libyaml's parser when PyYAML was built with it, as vcrpy does
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


#: The implicit tag of each short plain scalar text seen: keys, header names and values repeat;
#: a body printed plain does not, and is never kept. Bounded: past the limit nothing is added.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_KEPT = 4096
_PLAIN_TEXT_KEPT = 128


class CassetteLoader(_BaseLoader):
    """vcrpy's cassette loader (``vcr.serializers.yamlserializer``), without importing vcrpy.

    Safe: only the benign Python tags vcrpy writes are built (strings, tuples, and old
    cassettes' ``BytesIO`` and iterator bodies, from their data alone).

    ``resolve`` gives each node its implicit tag; libyaml calls it for every node, and PyYAML's
    version (a regex per plain scalar) is a third of a cassette's parse. Without path resolvers
    (none are registered here) a tag depends on the node's kind, and a plain scalar's on its text
    alone: quoted scalars, sequences and mappings take their default tag directly, and a plain
    scalar's tag is kept by text (cassettes repeat their keys and header names).
    """

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if self.yaml_path_resolvers:  # pragma: no cover - none are ever added to this loader
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call,no-any-return]
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return self.DEFAULT_SCALAR_TAG
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(value) <= _PLAIN_TEXT_KEPT and len(_PLAIN_TAGS) < _PLAIN_TAGS_KEPT:
                    _PLAIN_TAGS[value] = tag
            return tag
        return self.DEFAULT_SEQUENCE_TAG if kind is yaml.SequenceNode else self.DEFAULT_MAPPING_TAG


def _construct_python_str(loader: CassetteLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


def _construct_python_tuple(loader: CassetteLoader, node: yaml.Node) -> Any:
    return tuple(loader.construct_sequence(node))  # type: ignore[arg-type]


def _construct_bytesio(loader: CassetteLoader, node: yaml.Node) -> Any:
    mapping = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    state = mapping.get("state") or (b"",)
    data = state[0] if state else b""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return BytesIO(data or b"")


def _construct_iter(loader: CassetteLoader, node: yaml.Node) -> Any:
    mapping = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    args: Any = mapping.get("args") or ([],)
    return iter(args[0] if args else [])


CassetteLoader.add_constructor("tag:yaml.org,2002:python/str", _construct_python_str)
CassetteLoader.add_constructor("tag:yaml.org,2002:python/unicode", _construct_python_str)
CassetteLoader.add_constructor("tag:yaml.org,2002:python/tuple", _construct_python_tuple)
CassetteLoader.add_constructor("tag:yaml.org,2002:python/object/new:_io.BytesIO", _construct_bytesio)
CassetteLoader.add_constructor("tag:yaml.org,2002:python/object/apply:builtins.iter", _construct_iter)

#: Names the cache's folder: a new loader, checker-independent format or PyYAML starts afresh.
CACHE_FORMAT = f"v1-pyyaml{yaml.__version__}-{'libyaml' if _BaseLoader.__name__.startswith('C') else 'py'}"
_DIGEST_SIZE = 16


def _parse(text: str) -> Any:
    try:
        return yaml.load(text, Loader=CassetteLoader)
    except yaml.constructor.ConstructorError as exc:
        # vcrpy's own wording for a tag its loader refuses.
        raise ValueError(
            f"There was a problem loading the cassette: {exc}. "
            "If this is an old cassette, delete it and re-record."
        ) from None


def _digest(key: str, payload: bytes) -> bytes:
    return hashlib.blake2b(key.encode("ascii") + payload, digest_size=_DIGEST_SIZE).digest()


def _entry(folder: Path, key: str) -> str:
    return os.path.join(folder, CACHE_FORMAT, key[:2], key[2:])


def _read(path: str, key: str) -> Any:
    """The cached document, or ``_MISSING`` when the entry is absent, torn or not ours."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return _MISSING
    digest, payload = data[:_DIGEST_SIZE], data[_DIGEST_SIZE:]
    if len(digest) != _DIGEST_SIZE or digest != _digest(key, payload):
        return _MISSING
    try:
        return marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return _MISSING


def _write(path: str, key: str, document: Any) -> None:
    """Best effort: a cache that cannot be written only costs the next run a parse."""
    try:
        payload = marshal.dumps(document)
    except ValueError:  # a value marshal cannot hold (a YAML timestamp): not cached
        return
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_digest(key, payload) + payload)
            os.replace(tmp, path)  # two workers writing one entry write the same bytes
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        pass


_MISSING: Any = object()


def load_cassette_document(data: bytes, text: str, cache: Path | None) -> Any:
    """What vcrpy's YAML loader makes of a cassette's ``text`` (``data`` are its bytes).

    Raises what the loader raises (``yaml.YAMLError``, ``ValueError`` for a refused tag).
    """
    if cache is None:
        return _parse(text)
    key = hashlib.sha256(data).hexdigest()
    path = _entry(cache, key)
    document = _read(path, key)
    if document is _MISSING:
        document = _parse(text)
        _write(path, key, document)
    return document
