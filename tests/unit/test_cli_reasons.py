"""The pt-BR reasons of the CLI's reports, built from what governance's domain code really returns.

Results and findings come from the governance domain functions and its proto conversion, so a
change to their evidence that breaks a pt-BR sentence fails here. The coverage tests fail when a
new rule kind, alert kind, orphan reason or redundancy match has no pt-BR sentence.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from modelward_cli.reasons import (
    ALERT_TEXTS_PT_BR,
    ORPHAN_TEXTS_PT_BR,
    REDUNDANCY_TEXTS_PT_BR,
    RULE_TEXTS_PT_BR,
    finding_pt_br,
    finding_text,
    redundant_model_uids,
    rule_result_pt_br,
    rule_result_text,
)
from modelward_governance.domain.alerts import AlertKind, OpenAlert
from modelward_governance.domain.evaluation import evaluate_model
from modelward_governance.domain.findings import Finding, FindingDraft, policy_finding_drafts, reconcile_findings
from modelward_governance.domain.monitoring_alerts import AlertDraft, WindowAlerts, finding_drafts
from modelward_governance.domain.orphans import OrphanReasonCode, assess_orphan, orphan_finding_drafts
from modelward_governance.domain.policy_yaml import default_policy_text, parse_policy
from modelward_governance.domain.portfolio import Metric, RiskTier, Stage
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.redundancy import MatchKind, RedundancyMatch, redundancy_finding_drafts
from modelward_governance.domain.severity import Severity
from modelward_governance.entrypoints.convert import finding_to_proto, rule_result_to_proto
from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.governance.v1 import resources_pb2 as gres
from tests.unit.governance.builders import T0, days, make_model, make_version

NOW = T0 + days(400)
POLICY = parse_policy(default_policy_text(), revision=3)
# English words of governance's messages that must not remain in a pt-BR sentence.
ENGLISH_WORDS = (" the ", " is ", " has ", " with ", " missing", " version ", " window ", "does not apply")


def _rule_results() -> list[gres.RuleResult]:
    """Evaluate the default policy on models built to pass, fail and skip every rule kind."""
    failing_version = make_version(
        1, stage=Stage.PRODUCTION, stage_time=NOW - days(300), description="", has_signature=False,
        metrics=(Metric("auc", 0.61, "test"),), code_commit="", feature_names=("tenure", "Gender", "age"),
    )
    failing = make_model(failing_version, owner="", team="", tags={})
    alert = OpenAlert("alert-9", failing.uid, 1, AlertKind.DATA_DRIFT,
                      Severity.CRITICAL, NOW - days(1), "income")
    passing_version = make_version(
        1, stage=Stage.PRODUCTION, last_review_time=NOW - days(5),
        approved_by=("user:carla@example.com", "user:dan@example.com"),
    )
    passing = make_model(passing_version, uid="uid-pass", model_id="pass")
    unmeasured = make_model(make_version(2, metrics=()), uid="uid-nometric", model_id="nometric")
    medium = make_model(make_version(1, stage=Stage.STAGING), uid="uid-medium", model_id="medium",
                        risk_tier=RiskTier.MEDIUM)
    results = []
    for model, alerts in ((failing, (alert,)), (passing, ()), (unmeasured, ()), (medium, ())):
        evaluation = evaluate_model(POLICY, model, now=NOW, open_alerts=alerts)
        results += [rule_result_to_proto(result, model.name) for result in evaluation.all_results()]
    return results


def _opened(drafts: Iterable[FindingDraft]) -> list[Finding]:
    return list(reconcile_findings([], drafts, now=NOW, resolution_for=lambda finding: "").opened)


def _assert_portuguese(text: str | None, english: str) -> None:
    assert text is not None, f"no pt-BR sentence for: {english}"
    assert text != english
    padded = f" {text} "
    assert not any(word in padded for word in ENGLISH_WORDS), f"English left in {text!r}"


def test_every_rule_kind_has_sentence() -> None:
    kinds = [value.number for value in gres.RuleKind.DESCRIPTOR.values if value.number]
    missing = [gres.RuleKind.Name(kind) for kind in kinds if kind not in RULE_TEXTS_PT_BR]
    assert not missing, f"add a pt-BR sentence to RULE_TEXTS_PT_BR for {missing}"


def test_every_alert_kind_has_sentence() -> None:
    kinds = [kind.value for kind in AlertKind]
    missing = [kind for kind in kinds if kind not in ALERT_TEXTS_PT_BR]
    assert not missing, f"add a pt-BR sentence to ALERT_TEXTS_PT_BR for {missing}"
    proto_kinds = {value.name.removeprefix("ALERT_KIND_").lower() for value in mon.AlertKind.DESCRIPTOR.values if value.number}
    assert proto_kinds == set(ALERT_TEXTS_PT_BR)


def test_every_orphan_and_match_has_sentence() -> None:
    assert {code.value for code in OrphanReasonCode} == set(ORPHAN_TEXTS_PT_BR)
    assert {kind.value for kind in MatchKind} == set(REDUNDANCY_TEXTS_PT_BR)


def test_rule_results_read_in_portuguese() -> None:
    outcomes = set()
    for result in _rule_results():
        text = rule_result_pt_br(result, result.model_version or "models/x")
        _assert_portuguese(text, result.message)
        if not result.applicable:
            outcome = "n/a"
        elif result.passed:
            outcome = "passed"
        else:
            outcome = "failed"
        outcomes.add((gres.RuleKind.Name(result.kind), outcome))
    for kind in RULE_TEXTS_PT_BR:
        name = gres.RuleKind.Name(kind)
        assert (name, "failed") in outcomes, f"no failing {name} result was rendered"
        assert (name, "passed") in outcomes, f"no passing {name} result was rendered"
    assert ("RULE_KIND_METRIC_THRESHOLD", "n/a") in outcomes
    assert ("RULE_KIND_MAX_DAYS_WITHOUT_REVIEW", "n/a") in outcomes


@pytest.mark.parametrize(
    ("rule_id", "expected"),
    [
        ("owner", "o modelo não tem responsável: defina um com UpdateModel"),
        ("model-metadata", "o modelo não tem o campo team nem a tag domain"),
        ("auc-high-risk", "auc no conjunto 'test' é 0,61; o esperado é auc >= 0,75"),
        ("lineage", "a versão 1 não registra a linhagem code_commit"),
        ("protected-attributes", "a versão 1 usa os atributos proibidos Gender e age"),
        ("approvals-high", "a versão 1 está em produção com 0 aprovações distintas, 2 exigidas: "
                           "solicite uma promoção para que os revisores possam aprová-la"),
        ("high-risk-review", "a versão 1 foi revisada pela última vez há 300 dias, mais que 180: "
                             "solicite de novo a promoção para PRODUCTION, para uma nova revisão"),
        ("drift-re-review", "a versão 1 está em produção com 1 alerta de drift aberto desde a última revisão, "
                            "o primeiro alert-9 (drift de dados, crítico, income): ela precisa de nova revisão"),
    ],
)
def test_failing_rule_sentence(rule_id: str, expected: str) -> None:
    results = [result for result in _rule_results() if result.rule_id == rule_id and not result.passed]
    assert results, f"no failing {rule_id} result"
    assert rule_result_text(results[0], "models/churn", "pt-BR") == expected


def test_not_applicable_sentence() -> None:
    (result,) = [result for result in _rule_results()
                 if result.rule_id == "auc-high-risk" and result.model_version.startswith("models/medium/")]
    assert rule_result_text(result, "models/medium", "pt-BR") == (
        "não se aplica: o nível de risco do modelo é médio, e a regra cobre crítico e alto"
    )


def test_english_report_keeps_server_message() -> None:
    for result in _rule_results():
        assert rule_result_text(result, "models/churn", "en") == result.message


def test_unknown_kind_falls_back_to_english() -> None:
    result = gres.RuleResult(rule_id="new", kind=99, passed=False, applicable=True, message="a new rule failed")
    assert rule_result_text(result, "models/churn", "pt-BR") == "a new rule failed"
    incomplete = gres.RuleResult(rule_id="owner", kind=gres.RULE_KIND_METRIC_THRESHOLD, applicable=True,
                                 message="auc is 0.5")
    assert rule_result_text(incomplete, "models/churn", "pt-BR") == "auc is 0.5"
    finding = gres.Finding(kind=gres.FINDING_KIND_DRIFT, rule_id="drift.new_kind.income", message="new alert")
    assert finding_text(finding, "pt-BR", {}) == "new alert"


def test_policy_finding_uses_rule_kind_of_its_revision() -> None:
    model = make_model(make_version(1), owner="")
    evaluation = evaluate_model(POLICY, model, now=NOW)
    opened = _opened(policy_finding_drafts(evaluation))
    (finding,) = [finding_to_proto(finding, model.name) for finding in opened if finding.key.check_id == "owner"]
    kinds = {(3, "owner"): gres.RULE_KIND_OWNER_REQUIRED}
    assert finding_text(finding, "pt-BR", kinds) == "o modelo não tem responsável: defina um com UpdateModel"
    assert finding_text(finding, "pt-BR", {(2, "owner"): gres.RULE_KIND_OWNER_REQUIRED}) == finding.message


def test_orphan_findings_read_in_portuguese() -> None:
    production = make_version(1, stage=Stage.PRODUCTION)
    cases = {
        "no_owner": (make_model(make_version(1), owner=""), "churn não tem responsável"),
        "owner_inactive": (make_model(make_version(1), owner="user:lea@example.com"),
                           "o responsável user:lea@example.com de churn está inativo: atribua um responsável ativo"),
        "no_activity": (make_model(production), "churn serve a versão 1 em produção sem nova versão, decisão ou "
                                                "dados de produção há 400 dias, mais que 180"),
    }
    directory = PrincipalDirectory(frozenset({"user:lea@example.com"}))
    for code, (model, expected) in cases.items():
        status = assess_orphan(model, directory, NOW)
        findings = [finding_to_proto(finding, model.name) for finding in _opened(orphan_finding_drafts(status))]
        (finding,) = [finding for finding in findings if finding.rule_id == f"orphaned.{code}"]
        _assert_portuguese(finding_pt_br(finding, {}), finding.message)
        assert finding_text(finding, "pt-BR", {}) == expected


def test_redundancy_findings_read_in_portuguese() -> None:
    matches = [
        RedundancyMatch(MatchKind.ARTIFACT_DIGEST, "uid-copy", 1, "uid-original", 3, 1.0, 1.0,
                        {"artifact_sha256": "f" * 64}),
        RedundancyMatch(MatchKind.FEATURE_SIMILARITY, "uid-copy", 2, "uid-other", 1, 0.9375, 0.85,
                        {"shared_feature_count": 15, "union_feature_count": 16}),
    ]
    findings = [finding_to_proto(finding, "models/copy") for finding in _opened(redundancy_finding_drafts(matches))]
    texts = sorted(finding_text(finding, "pt-BR", {}) for finding in findings)
    for finding in findings:
        _assert_portuguese(finding_pt_br(finding, {}), finding.message)
    assert texts == [
        "a versão 1 tem o mesmo artefato que a versão 3 do modelo uid-original (similaridade 1,000, limite 1)",
        "a versão 2 tem atributos quase idênticos aos da versão 1 do modelo uid-other "
        "(similaridade 0,938, limite 0,85)",
    ]


def test_redundancy_findings_name_other_model() -> None:
    match = RedundancyMatch(MatchKind.ARTIFACT_DIGEST, "uid-copy", 1, "uid-original", 3, 1.0, 1.0,
                            {"artifact_sha256": "f" * 64})
    (finding,) = [finding_to_proto(finding, "models/copy") for finding in _opened(redundancy_finding_drafts([match]))]
    names = {"uid-original": "models/original"}

    assert finding_text(finding, "pt-BR", {}, names) == (
        "a versão 1 tem o mesmo artefato que a versão 3 de models/original (similaridade 1,000, limite 1)"
    )
    assert finding_text(finding, "en", {}, names) == (
        "version 1 has the same artifact as version 3 of models/original (similarity 1.000, threshold 1)"
    )
    assert "uid-original" in finding_text(finding, "en", {}, {})
    assert redundant_model_uids([finding]) == {"uid-original"}


def _alert(kind: AlertKind, feature: str, severity: Severity, method: str, value: float, threshold: float,
           numbers: dict[str, float | str | None]) -> AlertDraft:
    return AlertDraft(kind, feature, severity, method, value, threshold, f"english message of {kind.value}",
                      {"window_index": 4, **numbers})


ALERTS = [
    (_alert(AlertKind.DATA_DRIFT, "income", Severity.CRITICAL, "psi", 0.412, 0.25,
            {"value": 0.412, "p_value": None, "max_p_value": 0.0, "warning_threshold": 0.1, "critical_threshold": 0.25}),
     "psi 0,412 em income na janela 4 (limite 0,25): drift de dados de nível crítico"),
    (_alert(AlertKind.DATA_DRIFT, "tenure", Severity.WARNING, "ks", 0.21, 0.1,
            {"value": 0.21, "p_value": 0.00012, "max_p_value": 0.01, "warning_threshold": 0.1}),
     "ks 0,21 em tenure na janela 4 (p-valor 0,00012 abaixo de 0,01, limite 0,1): drift de dados de nível aviso"),
    (_alert(AlertKind.PREDICTION_DRIFT, "score", Severity.WARNING, "missing_rate", 0.08, 0.05,
            {"value": 0.08, "warning_threshold": 0.05}),
     "a taxa de valores ausentes de score mudou em 0,08 na janela 4 (limite 0,05): drift de predição de nível aviso"),
    (_alert(AlertKind.CONCEPT_DRIFT, "auc", Severity.CRITICAL, "auc", 0.71, 0.1,
            {"registered": 0.84, "value": 0.71, "degradation": 0.13, "labeled_rows": 380, "min_labeled_rows": 100}),
     "auc 0,71 na janela 4 contra 0,84 registrado: piora de 0,13 em 380 linhas rotuladas: drift de conceito de "
     "nível crítico"),
    (_alert(AlertKind.CONCEPT_DRIFT, "page_hinkley_error_rate", Severity.WARNING, "page_hinkley", 2.0, 1.0,
            {"detections": 2}),
     "o teste de Page-Hinkley detectou aumento da taxa de erro 2 vezes na janela 4"),
    (_alert(AlertKind.DRIVER_SHIFT, "mean radius", Severity.CRITICAL, "mutual_information", 0.36, 0.3,
            {"target": "label", "change": 0.36, "reference_coefficient": 0.72, "window_coefficient": None,
             "reference_mutual_information": 0.41, "window_mutual_information": 0.05}),
     "a relação de mean radius com o rótulo mudou em 0,36 (correlação de 0,72 para n/d, informação mútua de 0,41 "
     "para 0,05) na janela 4: mudança de influência de nível crítico"),
]


@pytest.mark.parametrize(("alert", "expected"), ALERTS, ids=[alert.method for alert, _ in ALERTS])
def test_drift_finding_sentence(alert: AlertDraft, expected: str) -> None:
    drafts = finding_drafts("uid-churn", 2, WindowAlerts((alert,), frozenset()), {})
    (finding,) = [finding_to_proto(finding, "models/churn") for finding in _opened(drafts)]
    assert finding.model_version == "models/churn/versions/2"
    assert finding_text(finding, "pt-BR", {}) == expected
    assert finding_text(finding, "en", {}) == alert.message


def test_every_alert_kind_rendered() -> None:
    assert {alert.kind.value for alert, _ in ALERTS} == set(ALERT_TEXTS_PT_BR)
