"""Run the examples in the docstrings, so they stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bot
import tuning


def modules_with_examples() -> list[str]:
    names = []
    packages = [(tuning.__path__, "tuning."), (bot.__path__, "bot.")]
    infos = [i for path, prefix in packages for i in pkgutil.walk_packages(path, prefix=prefix)]
    for info in infos:
        if info.name.startswith("tuning.cli") or info.name.endswith("__main__"):
            continue  # entry points; their behaviour is tested through subprocesses
        found = doctest.DocTestFinder().find(importlib.import_module(info.name))
        if any(test.examples for test in found):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
