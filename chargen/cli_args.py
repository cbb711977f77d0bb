"""argparse flags generated from the config dataclasses, so defaults and help live in one place.

Usage:

    add_dataclass_args(parser, TrainConfig)
    cfg = dataclass_from_args(TrainConfig, args)
"""
from __future__ import annotations

import argparse
from dataclasses import MISSING, fields

_TYPES = {"int": int, "float": float, "str": str}


def _base_type(annotation: str):
    names = [t.strip() for t in str(annotation).split("|") if t.strip() != "None"]
    if names and names[0].startswith("list["):
        return "list", _TYPES[names[0][5:-1]]
    return names[0], _TYPES.get(names[0])


def add_dataclass_args(parser: argparse.ArgumentParser, cls, skip=()) -> None:
    group = parser.add_argument_group(cls.__name__)
    for f in fields(cls):
        meta = f.metadata
        if f.name in skip or meta.get("cli") is False:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING else None)
        kind, typ = _base_type(f.type)
        help_text = meta.get("help", "")
        if kind == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=f"{help_text} (default: {'on' if default else 'off'})")
        elif kind == "list":
            group.add_argument(flag, nargs=meta.get("nargs", "+"), type=typ, default=None, help=help_text)
        else:
            shown = "auto" if default is None else default
            group.add_argument(flag, type=typ, default=None, choices=meta.get("choices"),
                               help=f"{help_text} (default: {shown})")


def dataclass_from_args(cls, args, **overrides):
    """Build ``cls`` from parsed args; flags the user did not give keep the dataclass default."""
    given = {f.name: getattr(args, f.name) for f in fields(cls)
             if getattr(args, f.name, None) is not None}
    return cls(**{**given, **overrides})
