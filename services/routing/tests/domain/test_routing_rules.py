"""Routing rules: the reference configuration, validation problems and first-match routing."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from phananh_contracts.values import Channel, Priority
from routing.adapters.rules_file import load_ruleset
from routing.domain.rules import (
    ProblemKind,
    RoutingInput,
    RuleProblem,
    RuleSet,
    RuleSetError,
    Sla,
    fold,
    route,
    validate_ruleset,
)

pytestmark = pytest.mark.unit

CONFIG = Path(__file__).resolve().parents[4] / "config/son-la"
REFERENCE = CONFIG / "routing.yaml"
CHIENG_SINH = "03679"
TO_HIEU = "03646"


def city_codes() -> tuple[set[str], set[str]]:
    city = yaml.safe_load((CONFIG / "city.yaml").read_text(encoding="utf-8"))
    categories = {category["code"] for category in city["categories"]}
    wards = {ward["code"] for ward in city["places"]["wards"]}
    return categories, wards


CATEGORIES, WARDS = city_codes()


def report(
    text: str = "Có việc cần phản ánh",
    *,
    category: str = "urban_order",
    ward_code: str | None = CHIENG_SINH,
    priority: Priority = Priority.NORMAL,
    channel: Channel = Channel.APP,
    hour: int = 9,
) -> RoutingInput:
    return RoutingInput(
        category=category,
        ward_code=ward_code,
        priority=priority,
        channel=channel,
        text=text,
        received_local_hour=hour,
    )


@pytest.fixture(scope="module")
def reference() -> RuleSet:
    return load_ruleset(REFERENCE)


# --- A small rule set to break in each test ----------------------------------------------


def document(*rules: dict[str, Any]) -> dict[str, Any]:
    """A valid rule set: the given rules, then the catch-all to triage."""
    return {
        "version": "test-1",
        "triage_agency_id": "triage",
        "default_sla": {"normal": {"working_days": 10}, "urgent": {"working_hours": 8}},
        "agencies": [
            {
                "id": "ubnd-chieng-sinh",
                "name": "UBND phường Chiềng Sinh",
                "level": "ward",
                "jurisdiction": [CHIENG_SINH],
                "parent": "ubnd-thanh-pho",
            },
            {
                "id": "ubnd-to-hieu",
                "name": "UBND phường Tô Hiệu",
                "level": "ward",
                "jurisdiction": [TO_HIEU],
                "parent": "ubnd-thanh-pho",
            },
            {"id": "ubnd-thanh-pho", "name": "UBND thành phố Sơn La", "level": "city"},
            {
                "id": "police",
                "name": "Công an thành phố",
                "level": "city",
                "categories": ["security_order"],
                "parent": "ubnd-thanh-pho",
            },
            {"id": "market", "name": "Ban quản lý chợ", "level": "city"},
            {"id": "triage", "name": "Bộ phận tiếp nhận", "level": "city"},
            {
                "id": "ubnd-chieng-an",
                "name": "UBND phường Chiềng An",
                "level": "ward",
                "jurisdiction": ["03664"],
            },
            {
                "id": "ubnd-chieng-coi",
                "name": "UBND phường Chiềng Cơi",
                "level": "ward",
                "jurisdiction": ["03670"],
            },
        ],
        "rules": [
            *rules,
            {"id": "catch-all", "description": "Phân loại", "lead": "triage"},
        ],
    }


def rule(rule_id: str, lead: str = "ward-committee", **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "description": f"Quy tắc {rule_id}", "lead": lead, **fields}


def problems(doc: dict[str, Any]) -> list[RuleProblem]:
    return validate_ruleset(RuleSet.model_validate(doc), CATEGORIES, WARDS)


def only(found: list[RuleProblem], kind: ProblemKind) -> RuleProblem:
    assert [problem.kind for problem in found] == [kind], [str(p) for p in found]
    return found[0]


# --- The reference configuration -----------------------------------------------------------


def test_reference_config_is_valid_for_the_city(reference: RuleSet) -> None:
    assert validate_ruleset(reference, CATEGORIES, WARDS) == []
    committees = {reference.ward_committee(ward) for ward in WARDS}
    assert None not in committees
    assert {agency.id for agency in committees if agency} == {
        "ubnd-to-hieu",
        "ubnd-chieng-an",
        "ubnd-chieng-coi",
        "ubnd-chieng-sinh",
    }


def test_reference_covers_the_seed_categories(reference: RuleSet) -> None:
    seed = {
        "security_order": "ubnd-chieng-sinh",
        "traffic_safety": "doi-csgt",
        "natural_resources_environment": "phong-tnmt",
        "construction_order": "ubnd-chieng-sinh",
        "urban_order": "ubnd-chieng-sinh",
        "environmental_sanitation": "moi-truong-do-thi",
    }
    for category, lead in seed.items():
        routing = route(reference, report("Phản ánh của người dân", category=category))
        assert routing.lead_agency_id == lead, category


def test_golden_path_noong_duc_market(reference: RuleSet) -> None:
    routing = route(
        reference,
        report(
            "Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, tổ 8, "
            "phường Chiềng Sinh, gây mất vệ sinh."
        ),
    )

    assert routing.rule_id == "cho-noong-duc"
    assert routing.ruleset_version == reference.version
    assert routing.lead_agency_id == "ubnd-chieng-sinh"
    assert routing.supporting_agency_ids == ("bql-cho-noong-duc",)
    assert routing.matched == {
        "category": "urban_order",
        "ward_code": CHIENG_SINH,
        "keyword": "Noong Đúc",
    }


def test_text_without_diacritics_matches_keywords(reference: RuleSet) -> None:
    routing = route(reference, report("co nguoi ban ca ngoai hanh lang CHO NOONG DUC"))

    assert routing.rule_id == "cho-noong-duc"
    assert fold("Chợ Noong Đúc, tổ 8!") == "cho noong duc to 8"


def test_keywords_match_whole_words_only(reference: RuleSet) -> None:
    # "Noong Đúcc" is not the market; the urban-order rule for the ward applies instead.
    routing = route(reference, report("bán hàng ở Noong Đúcc"))

    assert routing.rule_id == "trat-tu-do-thi-xay-dung"
    assert routing.supporting_agency_ids == ("doi-qltt-do-thi",)


def test_outages_have_a_short_sla(reference: RuleSet) -> None:
    outage = route(reference, report("Mất điện từ sáng", category="electricity"))
    bill = route(reference, report("Hóa đơn tiền điện tăng", category="electricity"))

    assert (outage.rule_id, outage.sla) == ("mat-dien", Sla(working_days=1))
    assert (bill.rule_id, bill.sla) == ("dien", Sla(working_days=5))


def test_urgent_reports_are_followed_by_the_city(reference: RuleSet) -> None:
    routing = route(
        reference, report("Vỡ đường ống nước", category="water_supply", priority=Priority.URGENT)
    )

    assert routing.lead_agency_id == "cap-nuoc-son-la"
    assert routing.supporting_agency_ids == ("ubnd-thanh-pho",)
    assert routing.sla == Sla(working_hours=4)
    assert routing.matched["priority"] == "urgent"


def test_unknown_ward_falls_to_triage(reference: RuleSet) -> None:
    routing = route(reference, report("Lấn chiếm vỉa hè", ward_code=None))

    assert routing.rule_id == "tiep-nhan-phan-loai"
    assert routing.lead_agency_id == "ioc-tiep-nhan"
    assert routing.matched == {}


def test_unclassified_goes_to_triage(reference: RuleSet) -> None:
    routing = route(reference, report("Xin hỏi", category="unclassified"))

    assert routing.lead_agency_id == reference.triage_agency_id


# --- Routing semantics -------------------------------------------------------------------


def test_first_match_wins() -> None:
    ruleset = RuleSet.model_validate(
        document(
            rule("market", supporting=["market"], when={"keywords": ["chợ Noong Đúc"]}),
            rule("urban", when={"categories": ["urban_order"]}),
        )
    )

    market = route(ruleset, report("Bán hàng ở chợ Noong Đúc"))
    other = route(ruleset, report("Lấn chiếm vỉa hè"))

    assert (market.rule_id, market.supporting_agency_ids) == ("market", ("market",))
    assert (other.rule_id, other.supporting_agency_ids) == ("urban", ())
    assert other.matched == {"category": "urban_order", "ward_code": CHIENG_SINH}


def test_ward_committee_resolves_the_reports_ward() -> None:
    ruleset = RuleSet.model_validate(document(rule("ward")))

    assert route(ruleset, report(ward_code=TO_HIEU)).lead_agency_id == "ubnd-to-hieu"
    assert route(ruleset, report(ward_code=CHIENG_SINH)).lead_agency_id == "ubnd-chieng-sinh"


def test_ward_committee_with_unknown_ward_falls_to_triage() -> None:
    ruleset = RuleSet.model_validate(document(rule("ward")))

    for ward in (None, "99999"):
        routing = route(ruleset, report(ward_code=ward))
        assert (routing.rule_id, routing.lead_agency_id) == ("catch-all", "triage")


def test_channel_and_hours_conditions() -> None:
    night = {"hours": {"start": 22, "end": 6}, "channels": ["hotline"]}
    ruleset = RuleSet.model_validate(document(rule("night", lead="police", when=night)))

    late = route(ruleset, report(channel=Channel.HOTLINE, hour=23))
    early = route(ruleset, report(channel=Channel.HOTLINE, hour=5))
    daytime = route(ruleset, report(channel=Channel.HOTLINE, hour=6))
    app = route(ruleset, report(channel=Channel.APP, hour=23))

    assert late.matched == {"channel": "hotline", "hour": "23"}
    assert (late.rule_id, early.rule_id) == ("night", "night")
    assert (daytime.rule_id, app.rule_id) == ("catch-all", "catch-all")


def test_rule_sla_overrides_the_default_per_priority() -> None:
    ruleset = RuleSet.model_validate(document(rule("fast", sla={"normal": {"working_days": 3}})))

    assert route(ruleset, report()).sla == Sla(working_days=3)
    assert route(ruleset, report(priority=Priority.URGENT)).sla == Sla(working_hours=8)


# --- Validation problems -----------------------------------------------------------------


def test_valid_small_rule_set_has_no_problems() -> None:
    assert problems(document(rule("urban", when={"categories": ["urban_order"]}))) == []


def test_unknown_agency_is_reported() -> None:
    found = problems(document(rule("urban", supporting=["doi-khong-co"])))

    problem = only(found, ProblemKind.UNKNOWN_AGENCY)
    assert problem.rule_id == "urban"
    assert "supporting agency 'doi-khong-co' is not an agency" in problem.message
    assert "rules[0] (id 'urban')" in problem.message


def test_unknown_parent_is_reported() -> None:
    doc = document()
    doc["agencies"][5]["parent"] = "nobody"

    problem = only(problems(doc), ProblemKind.UNKNOWN_AGENCY)
    assert "agencies[5] (id 'triage'): parent 'nobody'" in problem.message


def test_unknown_category_and_ward_are_reported() -> None:
    found = problems(document(rule("x", when={"categories": ["trat_tu"], "ward_codes": ["12345"]})))

    assert [problem.kind for problem in found] == [
        ProblemKind.UNKNOWN_CATEGORY,
        ProblemKind.UNKNOWN_WARD,
    ]
    assert "category 'trat_tu' is not in the city's taxonomy" in found[0].message
    assert "ward code '12345' is not a ward of the city" in found[1].message


def test_missing_catch_all_is_reported() -> None:
    doc = document(rule("urban", when={"categories": ["urban_order"]}))
    doc["rules"].pop()

    problem = only(problems(doc), ProblemKind.NO_CATCH_ALL)
    assert "the last rule must be a catch-all" in problem.message


def test_catch_all_must_go_to_triage() -> None:
    doc = document()
    doc["rules"][-1]["lead"] = "ubnd-thanh-pho"

    problem = only(problems(doc), ProblemKind.NO_CATCH_ALL)
    assert "must lead to the triage desk 'triage'" in problem.message


def test_rule_after_the_catch_all_is_unreachable() -> None:
    doc = document()
    doc["rules"].append(rule("late", lead="triage"))

    found = problems(doc)
    unreachable = [p for p in found if p.kind == ProblemKind.UNREACHABLE_RULE]
    assert [p.rule_id for p in unreachable] == ["late"]
    assert "unreachable, it comes after the catch-all rules[0] (id 'catch-all')" in str(
        unreachable[0]
    )


def test_shadowed_rule_is_reported() -> None:
    found = problems(
        document(
            rule("urban", when={"categories": ["urban_order", "construction_order"]}),
            rule(
                "market",
                supporting=["market"],
                when={"categories": ["urban_order"], "keywords": ["chợ"]},
            ),
        )
    )

    problem = only(found, ProblemKind.SHADOWED_RULE)
    assert problem.rule_id == "market"
    assert "shadowed by the earlier rules[0] (id 'urban')" in problem.message


def test_narrower_keyword_is_shadowed_by_a_broader_one() -> None:
    found = problems(
        document(
            rule("market", when={"keywords": ["Noong Đúc"]}),
            rule(
                "corridor", when={"keywords": ["hanh lang cho Noong Duc"], "priorities": ["urgent"]}
            ),
        )
    )

    assert only(found, ProblemKind.SHADOWED_RULE).rule_id == "corridor"


def test_rules_that_only_overlap_are_not_shadowed() -> None:
    assert (
        problems(
            document(
                rule("sinh", when={"categories": ["urban_order"], "ward_codes": [CHIENG_SINH]}),
                rule("urban", when={"categories": ["urban_order", "land"]}),
                rule("night", lead="police", when={"hours": {"start": 22, "end": 6}}),
                rule("late", lead="police", when={"hours": {"start": 20, "end": 2}}),
            )
        )
        == []
    )


def test_ward_committee_rule_does_not_shadow_a_rule_that_catches_unknown_wards() -> None:
    # The first rule falls through when the ward is unknown; the second catches those.
    found = problems(
        document(
            rule("ward", when={"categories": ["land"]}),
            rule("city", lead="ubnd-thanh-pho", when={"categories": ["land"]}),
        )
    )

    assert found == []


def test_supporting_agency_equal_to_lead_is_reported() -> None:
    found = problems(
        document(rule("x", lead="police", supporting=["police"], when={"priorities": ["urgent"]}))
    )

    problem = only(found, ProblemKind.SUPPORTING_IS_LEAD)
    assert "'police' is both the lead and a supporting agency" in problem.message


def test_parent_cycle_is_reported() -> None:
    doc = document()
    doc["agencies"][2]["parent"] = "police"  # ubnd-thanh-pho → police → ubnd-thanh-pho

    problem = only(problems(doc), ProblemKind.PARENT_CYCLE)
    assert "cycle" in problem.message
    assert "ubnd-thanh-pho → police → ubnd-thanh-pho" in problem.message


def test_lead_that_does_not_handle_the_category_is_reported() -> None:
    found = problems(document(rule("x", lead="police", when={"categories": ["land"]})))

    problem = only(found, ProblemKind.LEAD_NOT_COMPETENT)
    assert "'police' does not handle 'land'" in problem.message


def test_ward_without_committee_is_reported() -> None:
    doc = document(rule("ward"))
    del doc["agencies"][-2:]  # Chiềng An and Chiềng Cơi

    found = problems(doc)
    missing = {p.message for p in found if p.kind == ProblemKind.WARD_COMMITTEE}

    assert len(missing) == 2
    assert all("has no ward-level agency" in message for message in missing)


def test_missing_sla_is_reported() -> None:
    doc = document()
    doc["default_sla"] = {"normal": {"working_days": 10}}

    problem = only(problems(doc), ProblemKind.MISSING_SLA)
    assert "no SLA for 'urgent' reports" in problem.message


# --- Loading -----------------------------------------------------------------------------


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_load_names_the_file_and_the_field(tmp_path: Path) -> None:
    doc = document(rule("fast", sla={"normal": {"working_days": 1, "working_hours": 8}}))
    path = write(tmp_path, doc)

    with pytest.raises(RuleSetError) as raised:
        load_ruleset(path)

    message = str(raised.value)
    assert str(path) in message
    assert "rules[0] (id 'fast').sla.normal" in message
    assert "exactly one of working_days and working_hours" in message


def test_load_rejects_unknown_fields_and_unquoted_ward_codes(tmp_path: Path) -> None:
    doc = document(rule("x", when={"wards": [CHIENG_SINH]}))
    doc["agencies"][0]["jurisdiction"] = [3679]

    with pytest.raises(RuleSetError) as raised:
        load_ruleset(write(tmp_path, doc))

    message = str(raised.value)
    assert "agencies[0] (id 'ubnd-chieng-sinh').jurisdiction[0]" in message
    assert "must be quoted" in message
    assert "rules[0] (id 'x').when.wards: Extra inputs are not permitted" in message


def test_load_reports_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("rules: [unclosed", encoding="utf-8")

    with pytest.raises(RuleSetError, match="not valid YAML"):
        load_ruleset(path)


def test_the_contract_example_report_follows_the_golden_path(reference: RuleSet) -> None:
    from zoneinfo import ZoneInfo

    from phananh_contracts.examples import REPORT_ASSIGNED, REPORT_RECEIVED

    facts = RoutingInput.from_report(REPORT_RECEIVED.data, ZoneInfo("Asia/Ho_Chi_Minh"))
    routing = route(reference, facts)

    assigned = REPORT_ASSIGNED.data
    assert routing.lead_agency_id == assigned.lead_agency_id
    assert routing.supporting_agency_ids == assigned.supporting_agency_ids
    assert routing.sla == Sla(working_days=5)


def test_an_agency_naming_a_calendar_the_rule_set_lacks_is_a_problem(reference: RuleSet) -> None:
    document = reference.model_dump(mode="json")
    document["agencies"][0]["calendar"] = "khong-co"
    problems = validate_ruleset(RuleSet.model_validate(document), CATEGORIES, WARDS)

    (problem,) = [p for p in problems if p.kind == ProblemKind.UNKNOWN_CALENDAR]
    assert "'khong-co' is not one of the rule set's calendars" in problem.message
    assert reference.calendar_of("dien-luc-son-la").observes_public_holidays is False
    assert reference.calendar_of("ubnd-chieng-sinh").working_weekdays[-1] == "fri"
