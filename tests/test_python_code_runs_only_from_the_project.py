"""``python`` assertions load .py files only from inside the rootdir or sys.path, unless opted in.

A suite naming ``../evil_check.py:check`` (outside the suite folder and the rootdir) once had it
imported and run at ``--collect-only``. Now that is a collection error naming the file and the
ini key that allows it (``llmops_python_anywhere = true``); nothing is imported.
"""

from __future__ import annotations

import pytest

from .helpers import add_ini, write

EVIL = "import pathlib\npathlib.Path(__file__).with_suffix('.ran').touch()\ndef check(output, ctx):\n    return True\n"


def _suite(pytester: pytest.Pytester, target: str) -> None:
    root = pytester.path
    write(root / "app.py", "def answer(prompt, vars):\n    return 'hi'\n")
    add_ini(pytester, "pythonpath = .")
    write(
        root / "suites" / "test_py.llmops.yaml",
        "provider: {id: python:app:answer, allow_no_call: true}\n"
        f"tests:\n  - {{name: a, prompt: x, assert: [{{type: python, value: '{target}'}}]}}\n",
    )


@pytest.mark.parametrize("absolute", [False, True])
def test_a_check_outside_the_project_is_refused_and_never_imported(
    pytester: pytest.Pytester, absolute: bool
) -> None:
    outside = pytester.path.parent / f"{pytester.path.name}_outside"
    write(outside / "evil_check.py", EVIL)
    target = f"{outside}/evil_check.py:check" if absolute else f"../../{outside.name}/evil_check.py:check"
    _suite(pytester, target)
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is outside the rootdir and sys.path*llmops_python_anywhere = true*"])
    assert not (outside / "evil_check.ran").exists()


def test_a_check_inside_the_project_runs(pytester: pytest.Pytester) -> None:
    write(pytester.path / "checks" / "mine.py", EVIL)
    _suite(pytester, "../checks/mine.py:check")
    pytester.runpytest().assert_outcomes(passed=1)
    assert (pytester.path / "checks" / "mine.ran").exists()


def test_the_ini_key_lets_a_check_from_elsewhere_run(pytester: pytest.Pytester) -> None:
    outside = pytester.path.parent / f"{pytester.path.name}_outside"
    write(outside / "evil_check.py", EVIL)
    _suite(pytester, f"{outside}/evil_check.py:check")
    add_ini(pytester, "llmops_python_anywhere = true")
    pytester.runpytest().assert_outcomes(passed=1)
    assert (outside / "evil_check.ran").exists()


def test_a_folder_on_sys_path_counts_as_the_project(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = pytester.path.parent / f"{pytester.path.name}_shared"
    write(shared / "shared_check.py", EVIL)
    monkeypatch.syspath_prepend(str(shared))
    _suite(pytester, f"{shared}/shared_check.py:check")
    pytester.runpytest().assert_outcomes(passed=1)
