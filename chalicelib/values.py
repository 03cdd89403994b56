"""Frozen value classes that cost a cold start little (issue 29).

`@frozen` stands for a frozen dataclass: the same fields, `__init__`, immutability,
`replace`, `asdict` and pattern matching, and the same equality, hash and repr. Those
three are shared by every class instead of generated for each: Python 3.11 generates
each dataclass method as source and compiles it when the module is imported, and six
methods for each of the app's eighty frozen classes were the largest part of the app's
own import time (about 40 ms of 50 on a cold start).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


def _compared(kind: type) -> Callable[[Any], Any]:
    """A function from an instance to the values of its compared fields (a tuple when
    there are several: what the dataclass's own `__eq__` and `__hash__` compare)."""
    names = [f.name for f in dataclasses.fields(kind) if f.compare]
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        single = names[0]
        return lambda instance: (getattr(instance, single),)
    return lambda instance: ()


def _eq(self: Any, other: Any) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self.__class__.__value_key__
    return key(self) == key(other)


def _hash(self: Any) -> int:
    return hash(self.__class__.__value_key__(self))


def _repr(self: Any) -> str:
    kind = self.__class__
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in kind.__value_repr__)
    return f"{kind.__qualname__}({shown})"


@dataclass_transform(frozen_default=True)
def frozen(cls: type[T]) -> type[T]:
    """A frozen dataclass with shared `__eq__`, `__hash__` and `__repr__`."""
    made: Any = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
    made.__value_key__ = staticmethod(_compared(made))
    made.__value_repr__ = tuple(f.name for f in dataclasses.fields(made) if f.repr)
    made.__eq__, made.__hash__, made.__repr__ = _eq, _hash, _repr
    return cls
