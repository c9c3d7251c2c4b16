"""Turning a rubric file into a validated ``Rubric``, or a ``RubricError`` that says where and why.

Validation runs in layers so each message can be specific: the safe YAML
reader (size, encoding, aliases, duplicates), the top-level model, each
criterion against its own kind's model, then the cross-references (ids,
skills, ``requires`` and cycles, total weight).  Every problem found is
reported, first one first; nothing is returned unless all pass.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from qm.rubric.engine import Rubric
from qm.rubric.errors import Issue, RubricError
from qm.rubric.examples import ExampleSet
from qm.rubric.registry import REGISTRY, known_kinds
from qm.rubric.spec import CriterionSpec, RubricHeader
from qm.rubric.yamlsrc import MAX_BYTES, Loc, Source, format_loc, read_source

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

FIELD_HINTS = {
    "weight": "weight is the points the criterion is worth: a plain number ≥ 0 such as 10 (no '%' or words)",
    "threshold": "a similarity/probability between 0 and 1, e.g. 0.6",
    "min_similarity": "a cosine similarity between 0 and 1, e.g. 0.3",
    "regex": "a Python regular expression, matched case-insensitively; escape ( ) [ ] . ? with a backslash",
    "emotion": "use one of the emotion labels listed in the message",
    "sentiment": "one of: negative, neutral, positive",
    "question": "one of: open, closed, none",
    "speaker": "one of: agent, customer, any",
    "trigger_speaker": "one of: agent, customer, any",
    "response_speaker": "one of: agent, customer, any",
    "url": "a full http(s) link, e.g. https://training.example.com/empathy",
    "id": "ids are lower_snake_case: a letter, then letters, digits or '_'",
    "metric": "one of: agent_talk_ratio, customer_talk_ratio, silence_ratio, longest_silence_s, "
              "overtalk_s, interruptions, agent_words_per_minute, hold_s, longest_hold_s",
    "at_least": "a number; ratios are between 0 and 1",
    "at_most": "a number; ratios are between 0 and 1",
    "auto_fail": "true or false",
}


def resolve(name_or_path: str | Path, rubrics_dir: Path | None = None) -> Path:
    """``default`` -> ``<rubrics_dir>/default.yaml``; anything path-like is used as a path."""
    if isinstance(name_or_path, Path):
        return name_or_path
    text = str(name_or_path)
    if "/" in text or "\\" in text or text.endswith((".yaml", ".yml")):
        return Path(text)
    if not NAME_RE.match(text):
        raise RubricError.one(text, None, "", "not a valid rubric name",
                              "use the file name without .yaml (letters, digits, '_', '-') or a path")
    if rubrics_dir is None:
        from qm.config import get_settings

        rubrics_dir = get_settings().rubrics_dir
    return Path(rubrics_dir) / f"{text}.yaml"


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X | None`` / ``list[X]`` / ``dict[str, X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, dict, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            if current is RubricHeader:
                return None
            continue  # a dict key such as a skill id
        current = _unwrap_model(field.annotation)
    return current


def _issues_from(exc: ValidationError, src: Source, prefix: Loc, model: type[BaseModel]) -> list[Issue]:
    issues: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        full = (*prefix, *loc)
        field = format_loc(full)
        msg = str(err["msg"]).removeprefix("Value error, ")
        kind = err["type"]
        last = next((p for p in reversed(loc) if isinstance(p, str)), "")
        hint = FIELD_HINTS.get(last, "")
        if kind == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
            msg = f"unknown field '{loc[-1]}'"
            if owner is not None:
                allowed = ", ".join(k for k in owner.model_fields if k != "kind")
                hint = f"fields allowed here: {allowed}"
        elif kind == "missing":
            msg = "required field is missing"
            hint = hint or f"add '{last}:'"
        elif kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
            msg = f"{msg} (got {err.get('input')!r})"
        elif kind == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        issues.append(Issue(src.line_of(full), field, msg, hint))
    return issues


def _criterion_payload(spec: BaseModel) -> dict[str, Any]:
    """The criterion as hashed into the version; options marked ``HASHED_WHEN_SET`` (of the criterion or of
    a model inside it, such as an example set) only when set, and a switched-on option marked ``hashed_as`` as
    the name of the code rule it turns on (``clauses``), so changing that rule re-versions the rubrics using it."""
    data = spec.model_dump(mode="json")
    for name, field in type(spec).model_fields.items():
        value = getattr(spec, name)
        extra = field.json_schema_extra
        if isinstance(extra, dict) and extra.get("hashed_when_set") \
                and value == field.get_default(call_default_factory=True):
            data.pop(name)
        elif isinstance(extra, dict) and "hashed_as" in extra and value is True:
            data[name] = extra["hashed_as"]
        elif isinstance(value, BaseModel):
            data[name] = _criterion_payload(value)
    return data


def _canonical_version(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _find_cycle(requires: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in requires.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and nxt in requires:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in requires:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _validate_criteria(src: Source, header: RubricHeader) -> tuple[list[CriterionSpec], list[Issue]]:
    specs: list[CriterionSpec] = []
    issues: list[Issue] = []
    kinds = known_kinds()
    for i, raw in enumerate(header.criteria):
        loc: Loc = ("criteria", i)
        if not isinstance(raw, dict):
            issues.append(Issue(src.line_of(loc), format_loc(loc), "a criterion must be a mapping",
                                "start each criterion with '- id: ...' and indent its fields"))
            continue
        kind = raw.get("kind")
        if kind is None:
            issues.append(Issue(src.line_of(loc), format_loc((*loc, "kind")), "required field is missing",
                                f"known kinds: {', '.join(kinds)}"))
            continue
        if not isinstance(kind, str) or kind not in REGISTRY:
            issues.append(Issue(src.line_of((*loc, "kind")), format_loc((*loc, "kind")),
                                f"unknown criterion kind {kind!r}", f"known kinds: {', '.join(kinds)}"))
            continue
        model = REGISTRY[kind].Spec
        merged = _merge_examples_files(src, loc, raw, model)
        if isinstance(merged, Issue):
            issues.append(merged)
            continue
        raw = merged
        try:
            specs.append(model.model_validate(raw))
        except ValidationError as exc:
            issues.extend(_issues_from(exc, src, loc, model))
    return specs, issues


EXAMPLE_KEYS = ("examples", "counter_examples")


def _merge_examples_files(src: Source, loc: Loc, raw: dict[str, Any],
                          model: type[CriterionSpec]) -> dict[str, Any] | Issue:
    """The criterion with every ``examples_file`` merged in: its own (a phrase's examples and
    counter-examples) and those of its example sets (a conditional's trigger or response examples:
    positive and negative)."""
    out = raw
    if "examples_file" in raw and "examples_file" in model.model_fields:
        merged = _merge_examples_file(src, loc, raw, EXAMPLE_KEYS)
        if isinstance(merged, Issue):
            return merged
        out = merged
    for name, field in model.model_fields.items():
        nested = raw.get(name)
        if isinstance(nested, dict) and "examples_file" in nested and _is_example_set(field.annotation):
            merged = _merge_examples_file(src, (*loc, name), nested, ("positive", "negative"))
            if isinstance(merged, Issue):
                return merged
            out = {**out, name: merged}
    return out


def _is_example_set(annotation: Any) -> bool:
    return annotation is ExampleSet or ExampleSet in getattr(annotation, "__args__", ())


def _merge_examples_file(src: Source, loc: Loc, raw: dict[str, Any],
                         into: tuple[str, str]) -> dict[str, Any] | Issue:
    """The criterion with the examples and counter-examples of its ``examples_file`` appended.

    Why merged here: the rubric version hashes the criteria as validated, so editing the examples file
    changes the version, and every later check (blank or duplicated examples) covers its sentences too.
    A problem inside the file raises ``RubricError`` naming that file and line.
    """
    floc: Loc = (*loc, "examples_file")
    line, field = src.line_of(floc), format_loc(floc)
    rel = raw["examples_file"]
    hint = "a .yaml file beside the rubric (or below its folder), e.g. examples/professionalism.yaml"
    if not isinstance(rel, str) or not rel.strip():
        return Issue(line, field, "expected a file name", hint)
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts or rel_path.suffix not in (".yaml", ".yml"):
        return Issue(line, field, f"'{rel}' must be a relative .yaml path inside the rubric's folder", hint)
    path = src.path.parent / rel_path
    if not path.is_file():
        return Issue(line, field, f"examples file '{rel}' not found (looked in {src.path.parent})", hint)
    ex = read_source(path)
    unknown = sorted(set(ex.data) - set(EXAMPLE_KEYS))
    if unknown:
        raise RubricError.one(path, ex.line_of((unknown[0],)), unknown[0], f"unknown key '{unknown[0]}'",
                              "an examples file holds only 'examples:' and 'counter_examples:' lists")
    out = dict(raw)
    for key, target in zip(EXAMPLE_KEYS, into, strict=True):
        items = ex.data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
            bad = next((i for i, t in enumerate(items) if not (isinstance(t, str) and t.strip())), None) \
                if isinstance(items, list) else None
            raise RubricError.one(path, ex.line_of((key,) if bad is None else (key, bad)), key,
                                  "expected a list of non-empty sentences", "one quoted sentence per '- ' line")
        inline = raw.get(target) or []
        out[target] = [*([inline] if isinstance(inline, str) else inline), *items]
    src.deps[str(path.resolve())] = ex.digest
    return out


def _cross_check(src: Source, header: RubricHeader, specs: list[CriterionSpec]) -> list[Issue]:
    """Checks across criteria; ``specs`` align one-to-one with ``header.criteria`` here."""
    issues: list[Issue] = []
    index_of: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.id in index_of:
            first = src.line_of(("criteria", index_of[spec.id], "id"))
            issues.append(Issue(src.line_of(("criteria", i, "id")), format_loc(("criteria", i, "id")),
                                f"duplicate criterion id '{spec.id}' (first used on line {first})",
                                "every criterion needs its own id; results and calibration refer to it"))
            continue
        index_of[spec.id] = i
    skills = sorted(header.skills)
    for i, spec in enumerate(specs):
        if spec.skill is not None and spec.skill not in header.skills:
            issues.append(Issue(src.line_of(("criteria", i, "skill")), format_loc(("criteria", i, "skill")),
                                f"unknown skill '{spec.skill}'",
                                f"define it under 'skills:' (defined: {', '.join(skills) or 'none'})"))
        for where, req in spec.references():
            loc: Loc = ("criteria", i, *where)
            if req == spec.id:
                issues.append(Issue(src.line_of(loc), format_loc(loc), "a criterion cannot require itself"
                                    if where[0] == "requires" else "a criterion cannot refer to itself"))
            elif req not in index_of:
                issues.append(Issue(src.line_of(loc), format_loc(loc), f"unknown criterion '{req}' in {where[0]}",
                                    f"criterion ids in this rubric: {', '.join(sorted(index_of))}"))
    if not issues:
        cycle = _find_cycle({s.id: list(s.requires) for s in specs})
        if cycle:
            i = index_of[cycle[0]]
            issues.append(Issue(src.line_of(("criteria", i, "requires")),
                                format_loc(("criteria", i, "requires")),
                                f"cyclic requires: {' → '.join(cycle)}",
                                "'requires' must form a chain, not a loop; remove one of the links"))
    if not issues:
        cycle = _find_cycle({s.id: [r for _, r in s.references()] for s in specs})
        if cycle:
            i = index_of[cycle[0]]
            issues.append(Issue(src.line_of(("criteria", i)), format_loc(("criteria", i)),
                                f"cyclic references between criteria: {' → '.join(cycle)}",
                                "a criterion cannot read a verdict that depends on its own; remove one link"))
    if specs and not issues and sum(s.weight for s in specs) <= 0:
        issues.append(Issue(src.line_of(("criteria",)), "criteria", "total weight is zero",
                            "give at least one criterion a weight > 0, or no call could ever score"))
    return issues


def validate_source(src: Source) -> tuple[RubricHeader, list[CriterionSpec]]:
    try:
        header = RubricHeader.model_validate(src.data)
    except ValidationError as exc:
        raise RubricError(src.path, _issues_from(exc, src, (), RubricHeader)) from None
    specs, issues = _validate_criteria(src, header)
    if not issues:
        issues = _cross_check(src, header, specs)
    if issues:
        raise RubricError(src.path, issues)
    return header, specs


_MEMO: dict[tuple[str, str], Rubric] = {}
_MEMO_MAX = 16


def clear_memo() -> None:
    """Forget prepared rubrics kept in memory (tests; a long-running worker never needs it)."""
    _MEMO.clear()


def _memo_key(path: Path) -> tuple[str, str] | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _deps_unchanged(deps: dict[str, str]) -> bool:
    """The files a memoised rubric read (``examples_file``) still hold the bytes it was built from."""
    try:
        return all(hashlib.sha256(Path(p).read_bytes()).hexdigest() == h for p, h in deps.items())
    except OSError:
        return False


def load_rubric(name_or_path: str | Path, rubrics_dir: Path | None = None, *, prepare: bool = True) -> Rubric:
    """Load and validate a rubric; ``prepare=False`` skips the encoder work (validation only).

    Raises ``RubricError`` (file, line, field, hint) for any problem; never returns a broken rubric.
    Prepared rubrics are kept in memory keyed by path *and content hash*, so the pipeline can call
    this for every call without re-embedding examples, and an edited file is always reloaded.
    """
    path = resolve(name_or_path, rubrics_dir)
    key = _memo_key(path) if prepare else None
    if key is not None and key in _MEMO and _deps_unchanged(_MEMO[key].dependencies):
        return _MEMO[key]
    src = read_source(path)
    header, specs = validate_source(src)
    skills = {k: v.model_dump(mode="json") for k, v in sorted(header.skills.items())}
    payload = {
        "id": header.id or path.stem,
        "name": header.name,
        "description": header.description,
        "skills": skills,
        "criteria": [_criterion_payload(s) for s in specs],
    }
    rubric = Rubric(
        id=payload["id"], name=header.name, description=header.description,
        version=_canonical_version(payload), path=path, skills=header.skills,
        criteria=[REGISTRY[s.kind](s) for s in specs], dependencies=src.deps,
    )
    if prepare:
        rubric.prepare()
        if key is not None:
            if len(_MEMO) >= _MEMO_MAX:
                _MEMO.pop(next(iter(_MEMO)))
            _MEMO[key] = rubric
    return rubric
