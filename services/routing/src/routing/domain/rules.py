"""Routing rules: which agencies handle a report, and how fast (pure: no I/O).

A city's routing configuration is one YAML file (``config/son-la/routing.yaml`` is the
reference) holding a :class:`RuleSet`: its version, the agencies (:class:`Agency`) and an
ordered list of rules (:class:`Rule`). The first rule whose conditions all hold for a
report decides its lead agency (chủ trì), its supporting agencies (phối hợp) and its SLA;
the last rule is a catch-all that sends everything else to the triage desk.

* :func:`parse_ruleset` checks the shape of a configuration (types, codes, SLA units);
  :class:`RuleSetError` names the origin and the field (the file is read by
  :func:`routing.adapters.rules_file.load_ruleset`).
* :func:`validate_ruleset` checks the meaning against the city's categories and wards:
  unknown agencies or codes, a missing catch-all, unreachable and shadowed rules,
  escalation cycles … It returns every :class:`RuleProblem` at once; a rule set with
  problems must not be used.
* :func:`route` applies a valid rule set to one :class:`RoutingInput` and returns a
  :class:`Routing` that says which rule decided and which report facts it matched on.

Keywords are matched accent-insensitively on whole words: "cho noong duc" matches the
keyword "chợ Noong Đúc" (see :func:`fold`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Self
from zoneinfo import ZoneInfo

import yaml
from phananh_contracts.values import (
    Channel,
    Code,
    EscalationLevel,
    Identifier,
    NfcText,
    Place,
    Priority,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from routing.domain.calendar import Sla, WorkingCalendar

_NATIONAL_CALENDAR = WorkingCalendar()

if TYPE_CHECKING:
    from phananh_contracts.events import ReportReceived

WARD_COMMITTEE = "ward-committee"
DEFAULT_CALENDAR = "vn-admin"
"""The national administrative calendar (Monday–Friday, office hours, public holidays)."""
"""Placeholder agency id: the People's Committee (UBND) of the report's ward.

It resolves to the agency of level ``ward`` whose jurisdiction holds the report's ward
code. A rule naming it (as lead or supporting agency) does not match a report whose ward
is unknown or has no ward committee: such a report falls through to later rules.
"""

# --- Folding --------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """The accent-insensitive matching key of ``text``.

    No diacritics (NFD, combining marks dropped), ``đ`` → ``d``, lowercase, and only
    letters and digits, words separated by single spaces: ``"Chợ Noong Đúc!"`` →
    ``"cho noong duc"``.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(_NON_WORD.sub(" ", bare).split())


_fold_phrase = lru_cache(maxsize=4096)(fold)
"""``fold`` for configured phrases, which recur on every report."""


def _contains_phrase(folded_text: str, folded_phrase: str) -> bool:
    return bool(folded_phrase) and f" {folded_phrase} " in f" {folded_text} "


# --- Field types ----------------------------------------------------------------------


def _ward_code_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            'ward codes must be quoted in YAML (e.g. "03646"): unquoted, YAML reads '
            f"them as numbers (here {value})"
        )
    return value


WardCode = Annotated[
    str, BeforeValidator(_ward_code_text), StringConstraints(pattern=r"^[0-9]{5}$")
]
"""Official 5-digit code of a ward or commune, as in the city configuration."""


def _foldable(value: str) -> str:
    if not fold(value):
        raise ValueError(f"{value!r} has no letters or digits to match")
    return value


Keyword = Annotated[
    NfcText, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_foldable)
]
"""A Vietnamese phrase matched accent-insensitively on whole words."""


def _distinct(values: tuple[Any, ...]) -> tuple[Any, ...]:
    seen: set[Any] = set()
    for value in values:
        key = fold(value) if isinstance(value, str) else value
        if key in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(key)
    return values


def _distinct_or_none(values: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    if values is None:
        return None
    if not values:
        raise ValueError("an empty list would match nothing; omit the condition to match any")
    return _distinct(values)


_ANY = "; omit for any (an empty list would match nothing)."


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- Agencies -------------------------------------------------------------------------


class Agency(_Model):
    """An agency that can receive reports (cơ quan chức năng, UBND, the triage desk)."""

    id: Code = Field(description="Stable machine id, e.g. 'ubnd-chieng-sinh'.")
    name: NfcText = Field(
        min_length=1, max_length=200, description="Vietnamese name, e.g. 'UBND phường Chiềng Sinh'."
    )
    level: EscalationLevel = Field(
        description=(
            "Administrative level: 'ward', 'city', 'province' or 'leadership'. 'ward' is "
            f"reserved for ward and commune People's Committees: {WARD_COMMITTEE!r} "
            "resolves to the ward-level agency whose jurisdiction holds the report's ward."
        )
    )
    jurisdiction: tuple[WardCode, ...] = Field(
        default=(),
        description="Ward codes the agency covers; empty for the whole city.",
    )
    categories: tuple[Code, ...] = Field(
        default=(),
        description=(
            "Category codes the agency handles; empty for a general agency "
            "(a People's Committee, the triage desk)."
        ),
    )
    parent: Code | None = Field(
        default=None,
        description="The agency one level up, to which overdue reports escalate; none at the top.",
    )
    calendar: Code = Field(
        default="vn-admin",
        description=(
            "Name of the working calendar its deadlines are counted on: 'vn-admin' or one "
            "of the rule set's ``calendars``."
        ),
    )


# --- Escalation ladder ----------------------------------------------------------------


class EscalationRung(_Model):
    """One level of the escalation ladder: who leads an overdue report there, and its term."""

    level: EscalationLevel = Field(
        description="The administrative level, e.g. 'city' or 'leadership'."
    )
    agency: Code = Field(
        description="The agency that leads (chủ trì) a report raised to this level."
    )
    by_ward: dict[WardCode, Code] = Field(
        default_factory=dict,
        description=(
            "Another agency for the reports of some wards (ward code → agency id); the "
            "others go to ``agency``."
        ),
    )
    sla: SlaByPriority = Field(
        default_factory=dict,
        description=(
            "The new term the level gets, per priority, counted from the escalation on the "
            "agency's calendar; priorities left out keep the report's own term."
        ),
    )

    def agency_for(self, ward_code: str | None) -> str:
        """The agency of this level for a report of ``ward_code``."""
        if ward_code is not None and ward_code in self.by_ward:
            return self.by_ward[ward_code]
        return self.agency

    def agencies(self) -> tuple[str, ...]:
        return (self.agency, *self.by_ward.values())


class EscalationLadder(_Model):
    """Where an overdue report goes: one level up at each missed deadline.

    The first level is whoever the rules made the lead (a ward People's Committee, a
    competent agency, the triage desk); each rung of ``ladder`` is the next level up. A
    missed deadline moves the report to the next rung above the one it is at (a lead that
    is itself a rung's agency is at that rung); the last rung is the top, where a missed
    deadline is recorded and nothing climbs. Without a ladder a report climbs its lead
    agency's ``parent`` chain, keeping its term.
    """

    ladder: tuple[EscalationRung, ...] = Field(
        default=(), description="The levels above the rules' lead agency, lowest first."
    )


# --- Rules ----------------------------------------------------------------------------


SlaByPriority = dict[Priority, Sla]


class HourWindow(_Model):
    """Local hours (Asia/Ho_Chi_Minh) in which a report was received: [start, end)."""

    start: int = Field(ge=0, le=23, description="First hour inside the window, 0–23.")
    end: int = Field(
        ge=1,
        le=24,
        description="First hour after the window, 1–24; smaller than start wraps past midnight.",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start % 24 == self.end % 24:
            raise ValueError("start and end must differ (omit 'hours' for any time)")
        return self

    def hours(self) -> frozenset[int]:
        """The hours of day (0–23) inside the window."""
        length = (self.end - self.start) % 24
        return frozenset((self.start + offset) % 24 for offset in range(length))

    def __str__(self) -> str:
        return f"{self.start:02d}:00–{self.end:02d}:00"


class Conditions(_Model):
    """What a report must satisfy for a rule to apply; every given condition must hold."""

    categories: Annotated[tuple[Code, ...] | None, AfterValidator(_distinct_or_none)] = Field(
        default=None, description="Category codes, any of" + _ANY
    )
    ward_codes: Annotated[tuple[WardCode, ...] | None, AfterValidator(_distinct_or_none)] = Field(
        default=None, description="Ward codes, any of" + _ANY
    )
    priorities: Annotated[tuple[Priority, ...] | None, AfterValidator(_distinct_or_none)] = Field(
        default=None, description="Priorities, any of" + _ANY
    )
    channels: Annotated[tuple[Channel, ...] | None, AfterValidator(_distinct_or_none)] = Field(
        default=None, description="Intake channels, any of" + _ANY
    )
    keywords: Annotated[tuple[Keyword, ...] | None, AfterValidator(_distinct_or_none)] = Field(
        default=None,
        description=(
            "Vietnamese phrases, any of, found accent-insensitively as whole words in the "
            "report's text" + _ANY
        ),
    )
    hours: HourWindow | None = Field(
        default=None, description="Local hours the report was received in; omit for any."
    )

    def is_empty(self) -> bool:
        """True when the rule has no condition: it matches every report (a catch-all)."""
        return all(getattr(self, name) is None for name in type(self).model_fields)


class Rule(_Model):
    """One routing rule: conditions and the assignment they lead to."""

    id: Code = Field(description="Stable id, recorded on every assignment it makes.")
    description: NfcText = Field(min_length=1, description="What the rule is for, for people.")
    when: Conditions = Field(
        default_factory=Conditions, description="Conditions; none for the catch-all."
    )
    lead: Code = Field(description=f"Lead agency (chủ trì): an agency id or {WARD_COMMITTEE!r}.")
    supporting: Annotated[tuple[Code, ...], AfterValidator(_distinct)] = Field(
        default=(),
        description=f"Supporting agencies (phối hợp): agency ids or {WARD_COMMITTEE!r}.",
    )
    sla: SlaByPriority = Field(
        default_factory=dict,
        description=(
            "Deadline per priority, e.g. {'normal': {'working_days': 10}, "
            "'urgent': {'working_hours': 8}}; priorities left out use the default SLA."
        ),
    )

    @property
    def is_catch_all(self) -> bool:
        """Whether the rule has no conditions."""
        return self.when.is_empty()

    def agency_ids(self) -> tuple[str, ...]:
        """The lead then the supporting agency ids, as written."""
        return (self.lead, *self.supporting)

    def uses_ward_committee(self) -> bool:
        """Whether the rule needs the report's ward committee."""
        return WARD_COMMITTEE in self.agency_ids()


class RuleSet(_Model):
    """A versioned routing configuration: agencies and rules, first match wins."""

    version: Identifier = Field(
        description="Version of the configuration, recorded on every assignment, e.g. '2025.1'."
    )
    triage_agency_id: Code = Field(
        description="The triage desk: lead of the last rule, the catch-all."
    )
    default_sla: SlaByPriority = Field(
        description="Deadline per priority for rules that give none for a priority."
    )
    urgent_supporting: Annotated[tuple[Code, ...], AfterValidator(_distinct)] = Field(
        default=(),
        description=(
            "Agencies that support every urgent report, whatever rule matched (e.g. the "
            "city People's Committee follows sudden incidents); never the lead."
        ),
    )
    max_handoffs: int = Field(
        default=3,
        ge=1,
        le=20,
        description=(
            "How many times agencies may pass a report on (declining it) before routing "
            "treats it as ping-pong and escalates it one level up."
        ),
    )
    reopen_rating_at_most: int = Field(
        default=2,
        ge=0,
        le=5,
        description=(
            "A citizen's rating (1–5) at or below this reopens a resolved report; a higher "
            "rating closes it. 0: ratings never reopen."
        ),
    )
    escalation: EscalationLadder = Field(
        default_factory=EscalationLadder,
        description=(
            "The escalation ladder: which agency leads an overdue report at each level "
            "above the rules' lead, and the term each level gets."
        ),
    )
    calendars: dict[Code, WorkingCalendar] = Field(
        default_factory=dict,
        description=(
            "Working calendars agencies may name (``calendar``), e.g. one for utilities "
            f"on call every day; {DEFAULT_CALENDAR!r} (the national administrative "
            "calendar) exists unless redefined here."
        ),
    )
    agencies: tuple[Agency, ...] = Field(min_length=1, description="Every agency rules name.")
    rules: tuple[Rule, ...] = Field(
        min_length=1, description="Rules in order; the first that matches wins."
    )

    def calendar_of(self, agency_id: str) -> WorkingCalendar:
        """The working calendar the agency's deadlines are counted on."""
        agency = self.agency(agency_id)
        name = agency.calendar if agency is not None else DEFAULT_CALENDAR
        return self.calendars.get(name) or _NATIONAL_CALENDAR

    def agency(self, agency_id: str) -> Agency | None:
        """The agency with this id, if any."""
        return next((agency for agency in self.agencies if agency.id == agency_id), None)

    def ward_committee(self, ward_code: str | None) -> Agency | None:
        """The People's Committee of ``ward_code``: the ward-level agency covering it."""
        if ward_code is None:
            return None
        return next(
            (
                agency
                for agency in self.agencies
                if agency.level == EscalationLevel.WARD and ward_code in agency.jurisdiction
            ),
            None,
        )

    def sla_for(self, rule: Rule, priority: Priority) -> Sla | None:
        """The SLA ``rule`` gives ``priority``, else the default, else none."""
        sla = rule.sla.get(priority)
        return sla if sla is not None else self.default_sla.get(priority)


# --- Loading --------------------------------------------------------------------------


class RuleSetError(ValueError):
    """The routing configuration cannot be read or has the wrong shape (message says where)."""


def parse_ruleset(text: str, origin: str) -> RuleSet:
    """A routing configuration from YAML text (e.g. published on the rules topic)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        raise RuleSetError(f"{origin}: not valid YAML: {problem}") from None
    if not isinstance(document, dict):
        raise RuleSetError(f"{origin}: the routing configuration must be a YAML mapping")
    return ruleset_of(document, origin)


def ruleset_of(document: dict[str, Any], origin: str) -> RuleSet:
    """A rule set from a parsed configuration; RuleSetError naming each field in error."""
    try:
        return RuleSet.model_validate(document)
    except ValidationError as error:
        problems = "\n".join(
            f"  {_location(document, problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise RuleSetError(f"{origin}: invalid routing configuration:\n{problems}") from None


def _location(document: Any, loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    node = document
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                parts.append(f" (id {node['id']!r})")
        else:
            parts.append(f".{part}")
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts).lstrip(".") or "(top level)"


class RulesInForce:
    """The rule set every decision uses now; replaced whole when a new one is published."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset


# --- Validation -----------------------------------------------------------------------


class ProblemKind(StrEnum):
    """What is wrong with a rule set."""

    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_AGENCY = "unknown_agency"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_WARD = "unknown_ward"
    NO_CATCH_ALL = "no_catch_all"
    UNREACHABLE_RULE = "unreachable_rule"
    SHADOWED_RULE = "shadowed_rule"
    SUPPORTING_IS_LEAD = "supporting_is_lead"
    PARENT_CYCLE = "parent_cycle"
    WARD_COMMITTEE = "ward_committee"
    """The ward-committee placeholder cannot be resolved well (missing, ambiguous)."""
    ESCALATION_LADDER = "escalation_ladder"
    """A rung of the escalation ladder names an unknown agency or ward, or goes down."""
    MISSING_SLA = "missing_sla"
    UNKNOWN_CALENDAR = "unknown_calendar"
    LEAD_NOT_COMPETENT = "lead_not_competent"
    """A rule sends a category to a lead agency that lists other categories only."""


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a rule set, with a message saying where and why."""

    kind: ProblemKind
    message: str
    rule_id: str | None = None
    agency_id: str | None = None

    def __str__(self) -> str:
        return self.message


def validate_ruleset(
    ruleset: RuleSet, known_categories: set[str], known_wards: set[str]
) -> list[RuleProblem]:
    """Everything wrong with ``ruleset`` for a city with these category and ward codes.

    An empty list means the rule set can be used: every agency a rule or a parent names
    exists, every code is known, the last rule is a catch-all to the triage desk, no rule
    is unreachable or shadowed by an earlier one, escalation has no cycles, and every
    priority a rule can match has an SLA.
    """
    return [
        *_agency_problems(ruleset, known_categories, known_wards),
        *_rule_problems(ruleset, known_categories, known_wards),
        *_order_problems(ruleset),
    ]


def _rule_label(index: int, rule: Rule) -> str:
    return f"rules[{index}] (id {rule.id!r})"


def _agency_problems(
    ruleset: RuleSet, known_categories: set[str], known_wards: set[str]
) -> Iterator[RuleProblem]:
    ids = {agency.id for agency in ruleset.agencies}
    seen: set[str] = set()
    for index, agency in enumerate(ruleset.agencies):
        where = f"agencies[{index}] (id {agency.id!r})"
        if agency.id in seen:
            yield RuleProblem(
                ProblemKind.DUPLICATE_ID,
                f"{where}: the agency id {agency.id!r} is used twice",
                agency_id=agency.id,
            )
        seen.add(agency.id)
        if agency.id == WARD_COMMITTEE:
            yield RuleProblem(
                ProblemKind.WARD_COMMITTEE,
                f"{where}: {WARD_COMMITTEE!r} is reserved for the report's ward committee",
                agency_id=agency.id,
            )
        if agency.parent is not None and agency.parent not in ids:
            yield RuleProblem(
                ProblemKind.UNKNOWN_AGENCY,
                f"{where}: parent {agency.parent!r} is not an agency of the rule set",
                agency_id=agency.id,
            )
        for code in agency.categories:
            if code not in known_categories:
                yield RuleProblem(
                    ProblemKind.UNKNOWN_CATEGORY,
                    f"{where}: category {code!r} is not in the city's taxonomy",
                    agency_id=agency.id,
                )
        for ward in agency.jurisdiction:
            if ward not in known_wards:
                yield RuleProblem(
                    ProblemKind.UNKNOWN_WARD,
                    f"{where}: ward code {ward!r} is not a ward of the city",
                    agency_id=agency.id,
                )
        if agency.calendar != DEFAULT_CALENDAR and agency.calendar not in ruleset.calendars:
            yield RuleProblem(
                ProblemKind.UNKNOWN_CALENDAR,
                f"{where}: calendar {agency.calendar!r} is not one of the rule set's "
                f"calendars ({', '.join(sorted({DEFAULT_CALENDAR, *ruleset.calendars}))})",
                agency_id=agency.id,
            )
        if agency.level == EscalationLevel.WARD and not agency.jurisdiction:
            yield RuleProblem(
                ProblemKind.WARD_COMMITTEE,
                f"{where}: a ward-level agency (a ward People's Committee) must name its "
                "ward in jurisdiction",
                agency_id=agency.id,
            )
    yield from _cycles(ruleset)
    yield from _ladder_problems(ruleset, known_wards)
    yield from _ward_committees(ruleset, known_wards)
    if ruleset.triage_agency_id not in ids:
        yield RuleProblem(
            ProblemKind.UNKNOWN_AGENCY,
            f"triage_agency_id: {ruleset.triage_agency_id!r} is not an agency of the rule set",
            agency_id=ruleset.triage_agency_id,
        )
    for agency_id in ruleset.urgent_supporting:
        if agency_id not in ids:
            yield RuleProblem(
                ProblemKind.UNKNOWN_AGENCY,
                f"urgent_supporting: {agency_id!r} is not an agency of the rule set",
                agency_id=agency_id,
            )


def _cycles(ruleset: RuleSet) -> Iterator[RuleProblem]:
    parents = {agency.id: agency.parent for agency in ruleset.agencies}
    reported: set[frozenset[str]] = set()
    for start in parents:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in parents and current not in path:
            path.append(current)
            current = parents[current]
        if current is None or current not in path:
            continue
        cycle = path[path.index(current) :]
        if frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        chain = " → ".join([*cycle, cycle[0]])
        yield RuleProblem(
            ProblemKind.PARENT_CYCLE,
            f"agencies: escalation parents form a cycle ({chain}): an overdue report "
            "would never reach the top",
            agency_id=cycle[0],
        )


_LEVEL_ORDER = tuple(EscalationLevel)
"""Levels from the lowest (ward) to the highest (leadership)."""


def _ladder_problems(ruleset: RuleSet, known_wards: set[str]) -> Iterator[RuleProblem]:
    ids = {agency.id for agency in ruleset.agencies}
    previous: EscalationRung | None = None
    for index, rung in enumerate(ruleset.escalation.ladder):
        where = f"escalation.ladder[{index}] (level {rung.level.value!r})"
        for agency_id in rung.agencies():
            if agency_id not in ids:
                yield RuleProblem(
                    ProblemKind.ESCALATION_LADDER,
                    f"{where}: {agency_id!r} is not an agency of the rule set",
                    agency_id=agency_id,
                )
        for ward in rung.by_ward:
            if ward not in known_wards:
                yield RuleProblem(
                    ProblemKind.ESCALATION_LADDER,
                    f"{where}: ward code {ward!r} is not a ward of the city",
                )
        if previous is not None and _LEVEL_ORDER.index(rung.level) <= _LEVEL_ORDER.index(
            previous.level
        ):
            yield RuleProblem(
                ProblemKind.ESCALATION_LADDER,
                f"{where}: a level must be above the one before it ({previous.level.value!r})",
            )
        previous = rung


def _ward_committees(ruleset: RuleSet, known_wards: set[str]) -> Iterator[RuleProblem]:
    committees: dict[str, list[str]] = {}
    for agency in ruleset.agencies:
        if agency.level == EscalationLevel.WARD:
            for ward in agency.jurisdiction:
                committees.setdefault(ward, []).append(agency.id)
    for ward, agency_ids in sorted(committees.items()):
        if len(agency_ids) > 1:
            yield RuleProblem(
                ProblemKind.WARD_COMMITTEE,
                f"agencies: ward {ward} has several ward-level agencies "
                f"({', '.join(agency_ids)}); {WARD_COMMITTEE!r} needs exactly one",
                agency_id=agency_ids[1],
            )
    if any(rule.uses_ward_committee() for rule in ruleset.rules):
        for ward in sorted(known_wards - committees.keys()):
            yield RuleProblem(
                ProblemKind.WARD_COMMITTEE,
                f"agencies: ward {ward} has no ward-level agency, so rules naming "
                f"{WARD_COMMITTEE!r} never match its reports",
            )


def _rule_problems(
    ruleset: RuleSet, known_categories: set[str], known_wards: set[str]
) -> Iterator[RuleProblem]:
    seen: set[str] = set()
    for index, rule in enumerate(ruleset.rules):
        for kind, text, agency_id in _rule_faults(ruleset, rule, known_categories, known_wards):
            yield RuleProblem(
                kind, f"{_rule_label(index, rule)}: {text}", rule_id=rule.id, agency_id=agency_id
            )
        if rule.id in seen:
            yield RuleProblem(
                ProblemKind.DUPLICATE_ID,
                f"{_rule_label(index, rule)}: the rule id {rule.id!r} is used twice",
                rule_id=rule.id,
            )
        seen.add(rule.id)


def _rule_faults(
    ruleset: RuleSet, rule: Rule, known_categories: set[str], known_wards: set[str]
) -> Iterator[tuple[ProblemKind, str, str | None]]:
    ids = {agency.id for agency in ruleset.agencies}
    roles = [("lead", rule.lead), *(("supporting", agency) for agency in rule.supporting)]
    for role, agency_id in roles:
        if agency_id != WARD_COMMITTEE and agency_id not in ids:
            yield (
                ProblemKind.UNKNOWN_AGENCY,
                f"{role} agency {agency_id!r} is not an agency of the rule set",
                agency_id,
            )
    if rule.lead in rule.supporting:
        yield (
            ProblemKind.SUPPORTING_IS_LEAD,
            f"{rule.lead!r} is both the lead and a supporting agency",
            rule.lead,
        )
    for code in rule.when.categories or ():
        if code not in known_categories:
            yield (
                ProblemKind.UNKNOWN_CATEGORY,
                f"category {code!r} is not in the city's taxonomy",
                None,
            )
    for ward in rule.when.ward_codes or ():
        if ward not in known_wards:
            yield (ProblemKind.UNKNOWN_WARD, f"ward code {ward!r} is not a ward of the city", None)
    lead = ruleset.agency(rule.lead)
    if lead is not None and lead.categories and rule.when.categories:
        foreign = [code for code in rule.when.categories if code not in lead.categories]
        if foreign:
            yield (
                ProblemKind.LEAD_NOT_COMPETENT,
                f"lead agency {lead.id!r} does not handle {', '.join(map(repr, foreign))} "
                f"(it handles {', '.join(lead.categories)})",
                lead.id,
            )
    for priority in rule.when.priorities or tuple(Priority):
        if ruleset.sla_for(rule, priority) is None:
            yield (
                ProblemKind.MISSING_SLA,
                f"no SLA for {priority.value!r} reports (in the rule or in default_sla)",
                None,
            )


def _order_problems(ruleset: RuleSet) -> Iterator[RuleProblem]:
    rules = ruleset.rules
    last_index, last = len(rules) - 1, rules[-1]
    if not last.is_catch_all:
        yield RuleProblem(
            ProblemKind.NO_CATCH_ALL,
            f"{_rule_label(last_index, last)}: the last rule has conditions; the last rule "
            "must be a catch-all (no 'when') sending every other report to the triage desk "
            f"{ruleset.triage_agency_id!r}",
            rule_id=last.id,
        )
    elif last.lead != ruleset.triage_agency_id or last.uses_ward_committee():
        yield RuleProblem(
            ProblemKind.NO_CATCH_ALL,
            f"{_rule_label(last_index, last)}: the catch-all must lead to the triage desk "
            f"{ruleset.triage_agency_id!r} and must not name {WARD_COMMITTEE!r}",
            rule_id=last.id,
        )
    for index, rule in enumerate(rules):
        for earlier_index, earlier in enumerate(rules[:index]):
            if not _covers(earlier, rule):
                continue
            if earlier.is_catch_all and not earlier.uses_ward_committee():
                yield RuleProblem(
                    ProblemKind.UNREACHABLE_RULE,
                    f"{_rule_label(index, rule)}: unreachable, it comes after the catch-all "
                    f"{_rule_label(earlier_index, earlier)}, which matches every report first",
                    rule_id=rule.id,
                )
            else:
                yield RuleProblem(
                    ProblemKind.SHADOWED_RULE,
                    f"{_rule_label(index, rule)}: shadowed by the earlier "
                    f"{_rule_label(earlier_index, earlier)}, whose conditions include all "
                    "of its own, so every report it could match is matched there first",
                    rule_id=rule.id,
                )
            break


def _covers(earlier: Rule, later: Rule) -> bool:
    """Whether ``earlier`` matches every report that ``later`` matches.

    Sufficient, not necessary: each condition of ``earlier`` is unconstrained or accepts
    every value ``later`` accepts (a keyword is covered when one of the earlier keywords
    occurs inside it). A rule that needs the ward committee does not match reports of
    wards without one, so it covers a later rule only if that rule fails there as well.
    """
    a, b = earlier.when, later.when
    for name in ("categories", "ward_codes", "priorities", "channels"):
        mine, theirs = getattr(a, name), getattr(b, name)
        if mine is not None and (theirs is None or not set(theirs) <= set(mine)):
            return False
    if a.keywords is not None:
        if b.keywords is None:
            return False
        if not all(
            any(_contains_phrase(fold(kb), fold(ka)) for ka in a.keywords) for kb in b.keywords
        ):
            return False
    if a.hours is not None and (b.hours is None or not b.hours.hours() <= a.hours.hours()):
        return False
    # Wards without a committee are exactly the ones validation reports, so a rule naming
    # the committee falls through only for reports with no known ward (or an unknown one).
    return (
        not earlier.uses_ward_committee()
        or later.uses_ward_committee()
        or (b.ward_codes is not None)
    )


# --- Routing --------------------------------------------------------------------------


class ReportFacts(Protocol):
    """What routing reads of a report (an intake report, or what a case keeps of it)."""

    @property
    def category(self) -> str: ...
    @property
    def place(self) -> Place | None: ...
    @property
    def priority(self) -> Priority: ...
    @property
    def channel(self) -> Channel: ...
    @property
    def title(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...


@dataclass(frozen=True)
class RoutingInput:
    """The facts of a report that routing decides on."""

    category: str
    ward_code: str | None
    priority: Priority
    channel: Channel
    text: str
    received_local_hour: int
    """Hour of day (0–23) the report was received, in the city's time zone."""

    def __post_init__(self) -> None:
        if not 0 <= self.received_local_hour <= 23:
            raise ValueError(f"received_local_hour must be 0–23, not {self.received_local_hour}")

    @classmethod
    def from_report(cls, report: ReportReceived | ReportFacts, zone: ZoneInfo) -> RoutingInput:
        """The routing facts of a report; ``zone`` is the city's time zone."""
        local: datetime = report.received_at.astimezone(zone)
        return cls(
            category=report.category,
            ward_code=report.place.ward_code if report.place is not None else None,
            priority=report.priority,
            channel=report.channel,
            text="\n".join(part for part in (report.title, report.text) if part),
            received_local_hour=local.hour,
        )


@dataclass(frozen=True)
class Routing:
    """The decision for one report: who handles it, how fast, and why."""

    rule_id: str
    ruleset_version: str
    lead_agency_id: str
    supporting_agency_ids: tuple[str, ...]
    """Distinct, without the lead."""
    sla: Sla
    matched: dict[str, str]
    """The report facts the decision rests on, e.g. {'category': 'urban_order',
    'ward_code': '03679', 'keyword': 'chợ Noong Đúc'}."""


class NoRuleMatched(LookupError):
    """No rule matched: the rule set has no working catch-all (it was not validated)."""


def route(ruleset: RuleSet, report: RoutingInput) -> Routing:
    """Route ``report`` with the first rule of ``ruleset`` that matches it.

    ``ruleset`` must have passed :func:`validate_ruleset`; otherwise
    :class:`NoRuleMatched` may be raised. Urgent reports also get the rule set's
    ``urgent_supporting`` agencies (then ``matched`` records the priority).
    """
    for rule in ruleset.rules:
        decision = _apply(ruleset, rule, report)
        if decision is not None:
            return decision
    raise NoRuleMatched(
        f"no rule of routing configuration {ruleset.version!r} matches the report "
        f"(category {report.category!r}, ward {report.ward_code!r}); it needs a catch-all"
    )


def candidates(ruleset: RuleSet, report: RoutingInput) -> Iterator[Routing]:
    """Every decision the rules would make for ``report``, best first.

    The first is :func:`route`'s; the next ones are what later matching rules say, for
    when earlier agencies declined the report.
    """
    for rule in ruleset.rules:
        decision = _apply(ruleset, rule, report)
        if decision is not None:
            yield decision


def _apply(ruleset: RuleSet, rule: Rule, report: RoutingInput) -> Routing | None:
    matched = _match(rule.when, report)
    if matched is None:
        return None
    agency_ids: list[str] = []
    for agency_id in rule.agency_ids():
        if agency_id == WARD_COMMITTEE:
            committee = ruleset.ward_committee(report.ward_code)
            if committee is None:
                return None
            assert report.ward_code is not None  # a committee was found for it
            matched["ward_code"] = report.ward_code
            agency_id = committee.id
        agency_ids.append(agency_id)
    if report.priority == Priority.URGENT and ruleset.urgent_supporting:
        agency_ids.extend(ruleset.urgent_supporting)
        matched["priority"] = report.priority.value
    sla = ruleset.sla_for(rule, report.priority)
    if sla is None:
        return None
    lead, *others = agency_ids
    return Routing(
        rule_id=rule.id,
        ruleset_version=ruleset.version,
        lead_agency_id=lead,
        supporting_agency_ids=tuple(_unique(a for a in others if a != lead)),
        sla=sla,
        matched=matched,
    )


def _match(when: Conditions, report: RoutingInput) -> dict[str, str] | None:
    """The matched facts when every condition holds, else None."""
    matched: dict[str, str] = {}
    checks: Mapping[str, tuple[tuple[Any, ...] | None, Any]] = {
        "category": (when.categories, report.category),
        "ward_code": (when.ward_codes, report.ward_code),
        "priority": (when.priorities, report.priority),
        "channel": (when.channels, report.channel),
    }
    for name, (allowed, value) in checks.items():
        if allowed is None:
            continue
        if value is None or value not in allowed:
            return None
        matched[name] = str(value)
    if when.keywords is not None:
        text = fold(report.text)
        keyword = next((k for k in when.keywords if _contains_phrase(text, _fold_phrase(k))), None)
        if keyword is None:
            return None
        matched["keyword"] = keyword
    if when.hours is not None:
        if report.received_local_hour not in when.hours.hours():
            return None
        matched["hour"] = str(report.received_local_hour)
    return matched


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
