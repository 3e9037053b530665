"""Run the examples in the docstrings of the pure modules, so they stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tuning


def modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tuning.__path__, prefix="tuning."):
        if info.name.startswith("tuning.cli"):
            continue  # command modules; their behaviour is tested through subprocesses
        found = doctest.DocTestFinder().find(importlib.import_module(info.name))
        if any(test.examples for test in found):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
