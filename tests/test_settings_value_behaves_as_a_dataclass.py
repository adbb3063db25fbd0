"""``Settings`` (settings._read_fields) behaves as ``dataclass(frozen=True, slots=True, kw_only=True)``.

Its ``__init__``, ``__eq__``, ``__hash__`` and ``__repr__`` loop over the fields instead of being
compiled for them (a cheaper pytest start): compared here with the dataclass's own, built from the
same fields.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.settings import SETTINGS, Settings

FIELDS = dataclasses.fields(Settings)
#: The reference: dataclass's generated methods over the same fields.
Reference: Any = dataclasses.make_dataclass(
    "Settings",
    [
        (
            f.name,
            f.type,
            dataclasses.field(default=f.default, default_factory=f.default_factory, compare=f.compare),
        )
        for f in FIELDS
    ],
    frozen=True,
    slots=True,
    kw_only=True,
)

CHANGES: list[dict[str, Any]] = [
    {},
    {"min_pass_rate": 0.9, "report": Path("r.json")},
    {"record_mode": "all", "allowed_hosts": ("a.example", "b.example")},
    {"sources": {"repeat": "option"}, "repeat": 3},
]


def test_every_row_of_the_table_is_a_field_with_the_row_s_default() -> None:
    names = {f.name for f in FIELDS} - {"sources"}
    assert names <= {s.key for s in SETTINGS}
    for setting in SETTINGS:
        if setting.key in names:
            assert getattr(Settings(), setting.key) == setting.default, setting.name


@pytest.mark.parametrize("changes", CHANGES)
def test_construction_equality_hash_and_repr_are_the_dataclass_s(changes: dict[str, Any]) -> None:
    ours, theirs = Settings(**changes), Reference(**changes)
    assert [getattr(ours, f.name) for f in FIELDS] == [getattr(theirs, f.name) for f in FIELDS]
    assert repr(ours) == repr(theirs)
    assert hash(ours) == hash(theirs)
    for other in CHANGES:
        assert (ours == Settings(**other)) == (theirs == Reference(**other))
        assert (ours != Settings(**other)) == (theirs != Reference(**other))
    assert ours != theirs and ours != object()  # another class is never equal


def test_the_value_is_frozen_slotted_and_keyword_only() -> None:
    settings = Settings(repeat=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.repeat = 3  # type: ignore[misc]
    assert not hasattr(settings, "__dict__")
    with pytest.raises(TypeError, match="unexpected keyword arguments: nope"):
        Settings(nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Settings("all")  # type: ignore[misc]
    assert Settings().sources == {} and Settings().sources is not Settings().sources


def test_replace_copy_and_pickle_keep_every_value() -> None:
    settings = Settings(min_score=0.5, sources={"min_score": "ini"})
    assert dataclasses.replace(settings, report=Path("x")).report == Path("x")
    assert dataclasses.replace(settings, report=Path("x")).min_score == 0.5
    for again in (copy.copy(settings), copy.deepcopy(settings), pickle.loads(pickle.dumps(settings))):
        assert again == settings and again.sources == {"min_score": "ini"}
