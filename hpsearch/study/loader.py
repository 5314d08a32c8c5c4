"""Read a study file: safe YAML with the line of every key, then the typed schema.

Errors come out as :class:`~hpsearch.study.errors.StudyError` -- one per problem, each
``key.path: rule, got value (line N)``.
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from .errors import StudyError, capped_errors, did_you_mean
from .limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from .schema import TAG, Study, section_at

__all__ = ["StudyLoader", "read_yaml", "load_study", "StudyErrors"]


class StudyErrors(StudyError):
    """Several :class:`StudyError` at once (all problems of one file)."""

    def __init__(self, errors):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.path, first.message, first.line, first.source)

    def __str__(self):  # (at most MAX_SHOWN_ERRORS lines, and a count of the others)
        return "\n".join(capped_errors(self.errors))


#: libyaml's parser when PyYAML has it (linear and fast on long lists), else PyYAML's own
_SAFE_LOADER = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None


class BadScalar(yaml.YAMLError):
    """A scalar whose tag the safe constructor knows but whose text it cannot turn into
    that type (``2001-13-45`` read as a date, an integer of 5,000 digits)."""

    def __init__(self, node, cause):
        self.node = node
        self.cause = cause
        super().__init__(str(cause))


class StudyLoader(_SAFE_LOADER or yaml.SafeLoader):
    """``yaml.SafeLoader`` (no Python tags) that also reads ``1e-4`` as a float.

    PyYAML follows YAML 1.1, where ``1e-4`` (no dot) is a *string*; every study file writes
    learning rates that way, so floats follow YAML 1.2 here. The parser is libyaml's when
    PyYAML was built with it (``CSafeLoader``: same safe constructor, C speed).
    """

    yaml_implicit_resolvers = {
        key: [r for r in resolvers if r[0] != "tag:yaml.org,2002:float"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_object(self, node, deep=False):
        """The safe constructor's, with a value it cannot convert (Python's ``ValueError``
        of ``int()`` / ``datetime()``) raised as :class:`BadScalar` naming the node."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise BadScalar(node, exc) from None


StudyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)


def _check_size(text, source):
    """Refuse, from the YAML events alone (nothing built), a file that is too large, too
    deeply nested, or whose aliases expand to too many values (a "billion laughs" bomb).

    The expanded size of every node is counted once: a collection is 1 plus the sizes of
    its items, an alias adds the size of the node it names, so the count is exact and
    linear in the length of the file however large the expansion.
    """
    if len(text) > MAX_FILE_BYTES:
        raise StudyError((), f"the study file has {len(text):,} characters, more than the "
                         f"limit of {MAX_FILE_BYTES:,}", None, source)
    try:
        _check_events(yaml.parse(text, Loader=StudyLoader), source)
    except yaml.MarkedYAMLError as exc:
        # libyaml >= 0.2.5 (PyYAML 6.0.4 wheels) stops far deeper nesting itself, while
        # scanning ahead, before the events reach the depth check: same rule, same message
        if "maximum nesting depth" not in str(exc):
            raise
        mark = exc.problem_mark or exc.context_mark
        raise StudyError((), f"mappings and lists are nested more than {MAX_DEPTH} levels "
                         "deep", mark.line + 1 if mark else None, source) from None


def _check_events(events, source):
    """The depth and expansion checks of :func:`_check_size` over the parse events."""
    stack, anchors = [[None, 0]], {}
    for event in events:
        if isinstance(event, _OPEN):
            stack.append([event.anchor, 1])
            if len(stack) - 1 > MAX_DEPTH:
                raise StudyError((), f"mappings and lists are nested more than {MAX_DEPTH} "
                                 "levels deep", event.start_mark.line + 1, source)
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, anchors.get(event.anchor, 1)
        else:
            continue
        if anchor is not None:
            anchors[anchor] = size
        stack[-1][1] += size
        if stack[-1][1] > MAX_NODES:
            raise StudyError((), f"the study file holds more than {MAX_NODES:,} values once "
                             "its YAML aliases (*name) are expanded",
                             event.start_mark.line + 1, source)


def _walk(node, path, lines, source, marks, seen_nodes=None):
    """Record ``lines[path] = line`` for every key and list item; refuse duplicate keys.

    ``marks`` maps the (line, column) where each value node starts to its key path. A node
    used again through an alias is walked once (its lines are those of the anchor).
    """
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    marks.setdefault((node.start_mark.line, node.start_mark.column), path)
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise StudyError(path, "keys must be plain names", line, source)
            if key in seen:
                raise StudyError(
                    (*path, key), f"duplicate key (first at line {seen[key]})", line, source
                )
            seen[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, source, marks, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _walk(item, (*path, i), lines, source, marks, seen_nodes)


def read_yaml(text, source=None):
    """Parse YAML ``text`` safely: ``(data, lines)`` with ``lines`` mapping key paths to lines.

    The limits of :func:`_check_size` are checked first, on the events alone.
    """
    loader = None
    lines, marks = {}, {}
    try:
        _check_size(text, source)
        loader = StudyLoader(text)
        node = loader.get_single_node()
        if node is not None:
            _walk(node, (), lines, source, marks)
        data = loader.construct_document(node) if node is not None else None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        tag = re.search(r"tag '([^']*)'", str(exc.problem))
        where = marks.get((mark.line, mark.column), ()) if mark else ()
        if tag is None:  # not a tag: a merge key (<<) of no mapping ("<<: 3"), said "YAML
            # tag '?' is not allowed: a study file holds plain data only"
            what = " ".join(p for p in (exc.context, exc.problem) if p)
            raise StudyError(where, f"invalid YAML: {what}", line, source) from None
        tag = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        raise StudyError(
            where,
            f"YAML tag {tag!r} is not allowed: a study file holds plain data only "
            "(no Python objects, nothing is executed)",
            line,
            source,
        ) from None
    except BadScalar as exc:
        mark = exc.node.start_mark
        tag = exc.node.tag.replace("tag:yaml.org,2002:", "")
        why = str(exc.cause).split(";")[0]
        raise StudyError(
            marks.get((mark.line, mark.column), ()),
            f"not a valid YAML {tag} ({why}), got {_show(exc.node.value)}; quote it to keep "
            "it as text", mark.line + 1, source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise StudyError((), f"invalid YAML: {what}", line, source) from None
    except yaml.YAMLError as exc:
        raise StudyError((), f"invalid YAML: {exc}", None, source) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _show(value):
    if isinstance(value, str):  # a long one cut (a 1 MiB name must not fill the terminal)
        if len(value) <= 200:
            return repr(value)
        return f"{value[:100]!r}... ({len(value):,} characters)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, bytes)):  # was "datetime.date(2001, 1, 1)"
        shown = value.isoformat() if isinstance(value, datetime.date) else repr(value)
        what = "date" if isinstance(value, datetime.date) else "binary"
        return f"{shown} (read as a YAML {what}: quote it to keep it as text)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_KINDS = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "finite_number": "must be a finite number",
}


def _rule(err):
    """The rule broken by one pydantic error, and whether to append ``got <value>``."""
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "missing":
        return "required key is missing", False
    if kind == "extra_forbidden":
        key = err["loc"][-1]
        cls = section_at(_clean(err["loc"][:-1]))
        allowed = list(cls.model_fields) if cls else []
        return f"unknown key{did_you_mean(key, allowed)} (allowed keys: {', '.join(allowed)})", False
    if kind == "float_type" and isinstance(err.get("input"), int):  # 1 followed by 400 0s
        return "must be a finite number", True
    if kind in _KINDS:
        return _KINDS[kind], True
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"must be one of {', '.join(choices)}", True
    bounds = {
        "greater_than": ("gt", ">"),
        "greater_than_equal": ("ge", ">="),
        "less_than": ("lt", "<"),
        "less_than_equal": ("le", "<="),
    }
    if kind in bounds:
        key, sym = bounds[kind]
        return f"must be {sym} {ctx[key]}", True
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} item(s)", True
    if kind == "study":
        return err["msg"], "value" in ctx
    if kind == "wrong_kind":
        return err["msg"], True
    msg = err["msg"]
    return (msg[len("Value error, "):] if msg.startswith("Value error, ") else msg), True


def _line_of(lines, path):
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _clean(loc):
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith(TAG)))


def _to_study_error(err, lines, source):
    path = _clean(err["loc"])
    if path[-1:] == ("[key]",) or err["type"] == "invalid_key":
        # a mapping key that is not text (``1:``, ``on:``, ``~:``): name it as written; a
        # section's (``invalid_key``) was "[1]: Keys should be strings, got true"
        key = err.get("input")
        path = (*path[:-2 if path[-1:] == ("[key]",) else -1],
                _show(key) if not isinstance(key, str) else key)
        return StudyError(path, f"a key must be a name (text), got {_show(key)}; quote it",
                          _line_of(lines, path), source)
    ctx = err.get("ctx", {})
    if err["type"] == "study" and "key" in ctx:
        key = ctx["key"]
        path = path + (tuple(key) if isinstance(key, (list, tuple)) else (key,))
    rule, with_value = _rule(err)
    value = ctx["value"] if "value" in ctx else err.get("input")
    if with_value:
        rule = f"{rule}, got {_show(value)}"
    if err["type"] == "literal_error" and isinstance(value, str):
        rule += did_you_mean(value, re.findall(r"'([^']*)'", ctx.get("expected", "")))
    rule += ctx.get("hint", "") + ctx.get("note", "")
    return StudyError(path, rule, _line_of(lines, path), source)


def validate(data, lines=None, source=None):
    """A :class:`~hpsearch.study.schema.Study` from plain ``data``, or :class:`StudyErrors`."""
    lines = lines or {}
    if data is None:
        raise StudyError((), "the study file is empty (it needs data, estimator and search)",
                         None, source)
    if not isinstance(data, dict):
        raise StudyError((), f"a study file must be a mapping of sections, got {_show(data)}",
                         1 if data is not None else None, source)
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        errors = [_to_study_error(e, lines, source) for e in exc.errors()]
        errors.sort(key=lambda e: (e.line or math.inf))
        raise StudyErrors(errors) from None


def load_study(path):
    """Read and validate the study file at ``path``: ``(study, lines, text)``."""
    path = Path(path)
    source = str(path)
    if path.suffix.lower() not in (".yaml", ".yml"):  # no other file's content in an error
        raise StudyError((), f"a study file is a YAML file named *.yaml or *.yml, got {source!r}",
                         None, source)
    try:
        if path.exists() and not path.is_file():  # never opened: a pipe would block,
            raise StudyError((), "the study file must be a regular file, not a folder, "  # and
                             f"a device or a pipe, got {source!r}", None, source)  # /dev/zero
        with open(path, "rb") as f:  # at most the limit (+1 to tell it was passed) is read
            raw = f.read(MAX_FILE_BYTES + 1)  # (never endless)
        if len(raw) > MAX_FILE_BYTES:
            size = max(len(raw), path.stat().st_size)
            raise StudyError((), f"the study file has {size:,} bytes, more than the limit "
                             f"of {MAX_FILE_BYTES:,}", None, source)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise StudyError((), f"study file not found: {source}", None, source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyError((), f"cannot read study file {source}: {exc}", None, source) from None
    data, lines = read_yaml(text, source)
    return validate(data, lines, source), lines, text
