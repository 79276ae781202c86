"""Governance's reasons in the report's language: rule results, findings and monitoring alerts.

Governance writes every reason in English (`message`) and also returns its kind and the values it
compared (`evidence`). In English the reports print the server's message. In pt-BR this module
builds the sentence from the kind and the evidence, one function per rule kind, orphan reason,
redundancy match and alert kind. A kind it does not know, or evidence without the values its
sentence needs, such as from an older or newer server, gets the server's English message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from google.protobuf import json_format

from modelward_cli.l10n import pt_br_label as _label
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_sdk.names import enum_label


@dataclass(frozen=True)
class Reason:
    """Inputs of a sentence: the evidence, and the model and version a result or finding is about."""

    evidence: Mapping[str, Any]
    # Model id without `models/`.
    model: str
    # Version number, or None for a result or finding about the whole model.
    version: int | None
    passed: bool = False
    # Severity label of a finding, such as `warning`.
    severity: str = ""


def _number(value: Any, pattern: str = "g") -> str:
    """Format a number with a decimal comma, as Brazilian Portuguese writes it."""
    number = float(value)
    if number.is_integer() and pattern == "g":
        return str(int(number))
    return format(number, pattern).replace(".", ",")


def _integer(value: Any) -> int:
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{value} is not a whole number")
    return int(number)


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _listing(items: Sequence[Any]) -> str:
    """Join items as `a, b e c`."""
    texts = [str(item) for item in items]
    if len(texts) <= 1:
        return "".join(texts)
    return ", ".join(texts[:-1]) + " e " + texts[-1]


def _version(reason: Reason) -> str:
    if reason.version is None:
        raise ValueError("a version rule without a version")
    return f"a versão {reason.version}"


# --- policy rules -------------------------------------------------------------------------------


def _owner_required(reason: Reason) -> str:
    if reason.passed:
        return f"o responsável é {reason.evidence['owner']}"
    return "o modelo não tem responsável: defina um com UpdateModel"


def _required_metadata(reason: Reason) -> str:
    subject = "o modelo" if reason.version is None else _version(reason)
    if reason.passed:
        return f"{subject} tem todos os campos e tags obrigatórios"
    fields, tags = reason.evidence["missing_fields"], reason.evidence["missing_tags"]
    parts = []
    if fields:
        parts.append(f"{'o campo' if len(fields) == 1 else 'os campos'} {_listing(fields)}")
    if tags:
        parts.append(f"{'a tag' if len(tags) == 1 else 'as tags'} {_listing(tags)}")
    return f"{subject} não tem {' nem '.join(parts)}"


def _metric_threshold(reason: Reason) -> str:
    evidence = reason.evidence
    metric = evidence["metric"]
    where = f" no conjunto {evidence['dataset_split']!r}" if evidence["dataset_split"] else ""
    expected = f"{metric} {evidence['operator']} {_number(evidence['threshold'])}"
    if evidence["actual"] is None:
        return f"a métrica {metric}{where} não foi informada; o esperado é {expected}"
    actual = _number(evidence["actual"])
    if reason.passed:
        return f"{metric}{where} é {actual}, o que atende a {expected}"
    return f"{metric}{where} é {actual}; o esperado é {expected}"


def _lineage_required(reason: Reason) -> str:
    if reason.passed:
        return f"{_version(reason)} registra {_listing(reason.evidence['required'])}"
    return f"{_version(reason)} não registra a linhagem {_listing(reason.evidence['missing'])}"


def _forbidden_features(reason: Reason) -> str:
    if reason.passed:
        return f"{_version(reason)} não usa nenhum dos atributos proibidos"
    return f"{_version(reason)} usa os atributos proibidos {_listing(reason.evidence['found'])}"


def _approvals_required(reason: Reason) -> str:
    evidence = reason.evidence
    required = _integer(evidence["required"])
    count = len(set(evidence["approved_by"]))
    if reason.passed:
        return (
            f"aprovada por {_plural(count, 'revisor distinto', 'revisores distintos')}, "
            f"{_plural(required, 'exigido', 'exigidos')}"
        )
    return (
        f"{_version(reason)} está em {_label(evidence['stage'])} com "
        f"{_plural(count, 'aprovação distinta', 'aprovações distintas')}, {_plural(required, 'exigida', 'exigidas')}: "
        "solicite uma promoção para que os revisores possam aprová-la"
    )


def _max_days_without_review(reason: Reason) -> str:
    evidence = reason.evidence
    age = round(float(evidence["age_days"]))
    limit = _integer(evidence["max_days"])
    if reason.passed:
        return f"revisada pela última vez há {_plural(age, 'dia', 'dias')}, dentro do limite de {limit}"
    return (
        f"{_version(reason)} foi revisada pela última vez há {age} dias, mais que {limit}: "
        "solicite de novo a promoção para PRODUCTION, para uma nova revisão"
    )


def _drift_requires_review(reason: Reason) -> str:
    evidence = reason.evidence
    if reason.passed:
        return (
            f"nenhum alerta de drift de nível {_label(evidence['min_alert_severity'])} ou acima "
            "aberto desde a última revisão"
        )
    alerts = evidence["alert_ids"]
    first = evidence["first_alert"]
    detail = ", ".join(
        part for part in (_label(first["kind"]), _label(first["severity"]),
                          first["feature"]) if part
    )
    opened = "aberto" if len(alerts) == 1 else "abertos"
    return (
        f"{_version(reason)} está em produção com {_plural(len(alerts), 'alerta de drift', 'alertas de drift')} "
        f"{opened} desde a última revisão, o primeiro {alerts[0]} ({detail}): ela precisa de nova revisão"
    )


def _not_applicable(reason: Reason) -> str:
    """Word the results of rules that leave this model or version out, whatever their kind."""
    evidence = reason.evidence
    if "rule_risk_tiers" in evidence:
        tiers = _listing([_label(tier) for tier in evidence["rule_risk_tiers"]])
        return f"não se aplica: o nível de risco do modelo é {_label(evidence['risk_tier'])}, e a regra cobre {tiers}"
    if "stages" in evidence and evidence["stage"] == "none":
        return f"não se aplica: {_version(reason)} não está em nenhum estágio"
    if "stages" in evidence:
        return f"não se aplica: {_version(reason)} está no estágio {_label(evidence['stage'])}"
    return f"não se aplica: {_version(reason)} não está em produção"


# Sentence of each rule kind's result. tests/unit/test_cli_reasons.py fails when a RuleKind lacks one.
RULE_TEXTS_PT_BR: dict[int, Callable[[Reason], str]] = {
    gres.RULE_KIND_REQUIRED_METADATA: _required_metadata,
    gres.RULE_KIND_OWNER_REQUIRED: _owner_required,
    gres.RULE_KIND_METRIC_THRESHOLD: _metric_threshold,
    gres.RULE_KIND_LINEAGE_REQUIRED: _lineage_required,
    gres.RULE_KIND_FORBIDDEN_FEATURES: _forbidden_features,
    gres.RULE_KIND_APPROVALS_REQUIRED: _approvals_required,
    gres.RULE_KIND_MAX_DAYS_WITHOUT_REVIEW: _max_days_without_review,
    gres.RULE_KIND_DRIFT_REQUIRES_REVIEW: _drift_requires_review,
}


# --- orphaned and redundant models ------------------------------------------------------------


def _no_owner(reason: Reason) -> str:
    return f"{reason.model} não tem responsável"


def _owner_inactive(reason: Reason) -> str:
    return f"o responsável {reason.evidence['owner']} de {reason.model} está inativo: atribua um responsável ativo"


def _no_activity(reason: Reason) -> str:
    evidence = reason.evidence
    versions = [_integer(version) for version in evidence["production_versions"]]
    serves = "a versão" if len(versions) == 1 else "as versões"
    return (
        f"{reason.model} serve {serves} {_listing(versions)} em produção sem nova versão, decisão ou dados de "
        f"produção há {_integer(evidence['idle_days'])} dias, mais que {_integer(evidence['max_idle_days'])}"
    )


# Sentence of each orphan reason, keyed by the code in the check id `orphaned.<code>`.
ORPHAN_TEXTS_PT_BR: dict[str, Callable[[Reason], str]] = {
    "no_owner": _no_owner,
    "owner_inactive": _owner_inactive,
    "no_activity": _no_activity,
}


def _redundancy(relation: str) -> Callable[[Reason], str]:
    def text(reason: Reason) -> str:
        evidence = reason.evidence
        return (
            f"a versão {_integer(evidence['version'])} tem {relation} versão {_integer(evidence['other_version'])} "
            f"do modelo {evidence['other_model_uid']} (similaridade {_number(evidence['similarity'], '.3f')}, "
            f"limite {_number(evidence['threshold'])})"
        )

    return text


# Sentence of each redundancy match, keyed by the kind in the check id `redundant.<kind>.<other uid>`.
REDUNDANCY_TEXTS_PT_BR: dict[str, Callable[[Reason], str]] = {
    "artifact_digest": _redundancy("o mesmo artefato que a"),
    "feature_similarity": _redundancy("atributos quase idênticos aos da"),
}


# --- monitoring alerts ------------------------------------------------------------------------


def _column_drift(kind: str) -> Callable[[Reason, str], str]:
    def text(reason: Reason, feature: str) -> str:
        evidence = reason.evidence
        window = _integer(evidence["window_index"])
        summary = f"{_label(kind)} de nível {_label(reason.severity)}"
        if evidence["method"] == "missing_rate":
            return (
                f"a taxa de valores ausentes de {feature} mudou em {_number(evidence['value'], '.4g')} na janela "
                f"{window} (limite {_number(evidence['threshold'], '.4g')}): {summary}"
            )
        p_value = evidence.get("p_value")
        about = (
            f"p-valor {_number(p_value, '.3g')} abaixo de {_number(evidence['max_p_value'], '.3g')}, "
            if p_value is not None else ""
        )
        return (
            f"{evidence['method']} {_number(evidence['value'], '.4g')} em {feature} na janela {window} "
            f"({about}limite {_number(evidence['threshold'], '.4g')}): {summary}"
        )

    return text


def _concept_drift(reason: Reason, feature: str) -> str:
    evidence = reason.evidence
    window = _integer(evidence["window_index"])
    if evidence["method"] == "page_hinkley":
        detections = _integer(evidence["detections"])
        return (
            f"o teste de Page-Hinkley detectou aumento da taxa de erro {_plural(detections, 'vez', 'vezes')} "
            f"na janela {window}"
        )
    return (
        f"{feature} {_number(evidence['value'], '.4g')} na janela {window} contra "
        f"{_number(evidence['registered'], '.4g')} registrado: piora de {_number(evidence['degradation'], '.4g')} em "
        f"{_integer(evidence['labeled_rows'])} linhas rotuladas: {_label('concept_drift')} de nível {_label(reason.severity)}"
    )


def _optional_number(value: Any) -> str:
    return "n/d" if value is None else _number(value, ".3g")


def _driver_shift(reason: Reason, feature: str) -> str:
    evidence = reason.evidence
    target = {"label": "o rótulo", "prediction": "a predição"}[evidence["target"]]
    return (
        f"a relação de {feature} com {target} mudou em {_number(evidence['change'], '.3g')} "
        f"(correlação de {_optional_number(evidence['reference_coefficient'])} para "
        f"{_optional_number(evidence['window_coefficient'])}, informação mútua de "
        f"{_number(evidence['reference_mutual_information'], '.3g')} para "
        f"{_number(evidence['window_mutual_information'], '.3g')}) na janela {_integer(evidence['window_index'])}: "
        f"{_label('driver_shift')} de nível {_label(reason.severity)}"
    )


# Sentence of each alert kind, keyed by the kind in the DRIFT finding's check id
# `drift.<kind>.<feature>`. tests/unit/test_cli_reasons.py fails when an AlertKind lacks one.
ALERT_TEXTS_PT_BR: dict[str, Callable[[Reason, str], str]] = {
    "data_drift": _column_drift("data_drift"),
    "prediction_drift": _column_drift("prediction_drift"),
    "concept_drift": _concept_drift,
    "driver_shift": _driver_shift,
}


# --- entry points -----------------------------------------------------------------------------


def _evidence(struct: Any) -> dict[str, Any]:
    return json_format.MessageToDict(struct)  # type: ignore[no-any-return]


def _version_number(name: str) -> int | None:
    return int(name.rsplit("/", 1)[-1]) if name else None


def _model_id(name: str) -> str:
    return name.removeprefix("models/").split("/", 1)[0]


def _attempt(build: Callable[[], str]) -> str | None:
    try:
        return build()
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


def rule_result_pt_br(result: gres.RuleResult, model: str) -> str | None:
    """Return the pt-BR sentence of a rule result, or None when its kind or evidence is unknown here."""
    reason = Reason(_evidence(result.evidence), _model_id(model), _version_number(result.model_version),
                    passed=result.passed)
    if not result.applicable:
        return _attempt(lambda: _not_applicable(reason))
    render = RULE_TEXTS_PT_BR.get(result.kind)
    return None if render is None else _attempt(lambda: render(reason))


def finding_pt_br(finding: gres.Finding, rule_kinds: Mapping[tuple[int, str], int]) -> str | None:
    """Return the pt-BR sentence of a finding, or None when its kind or evidence is unknown here.

    `rule_kinds` maps (policy revision, rule id) to the rule's RuleKind, for policy findings.
    """
    reason = Reason(
        _evidence(finding.evidence), _model_id(finding.model), _version_number(finding.model_version),
        severity=enum_label(gres.Severity, finding.severity) if finding.severity else "",
    )
    prefix, _, rest = finding.rule_id.partition(".")
    if finding.kind == gres.FINDING_KIND_POLICY_VIOLATION:
        render = RULE_TEXTS_PT_BR.get(rule_kinds.get((finding.policy_revision, finding.rule_id), 0))
        return None if render is None else _attempt(lambda: render(reason))
    if finding.kind == gres.FINDING_KIND_ORPHANED_MODEL and prefix == "orphaned":
        orphan = ORPHAN_TEXTS_PT_BR.get(rest)
        return None if orphan is None else _attempt(lambda: orphan(reason))
    if finding.kind == gres.FINDING_KIND_REDUNDANT_MODEL and prefix == "redundant":
        redundancy = REDUNDANCY_TEXTS_PT_BR.get(rest.split(".", 1)[0])
        return None if redundancy is None else _attempt(lambda: redundancy(reason))
    if finding.kind == gres.FINDING_KIND_DRIFT and prefix == "drift":
        kind, _, feature = rest.partition(".")
        alert = ALERT_TEXTS_PT_BR.get(kind)
        return None if alert is None else _attempt(lambda: alert(reason, feature))
    return None


def rule_result_text(result: gres.RuleResult, model: str, language: str) -> str:
    """Return the reason of a rule result in `language`, or the server's English message."""
    translated = rule_result_pt_br(result, model) if language == "pt-BR" else None
    return translated or result.message


def finding_text(
    finding: gres.Finding,
    language: str,
    rule_kinds: Mapping[tuple[int, str], int],
    model_names: Mapping[str, str] = MappingProxyType({}),
) -> str:
    """Return the reason of a finding in `language`, or the server's English message.

    `model_names` maps model uids to names such as `models/churn`. A redundancy finding names
    the other model by uid, so the text shows its name instead when the mapping has it."""
    translated = finding_pt_br(finding, rule_kinds) if language == "pt-BR" else None
    text = translated or finding.message
    if finding.kind == gres.FINDING_KIND_REDUNDANT_MODEL:
        other_uid = finding.rule_id.rsplit(".", 1)[-1]
        if other_uid in model_names:
            text = _with_model_name(text, other_uid, model_names[other_uid])
    return text


def _with_model_name(text: str, uid: str, name: str) -> str:
    """Replace a model uid in a reason with the model name, which starts with "models/"."""
    for uid_phrase, name_phrase in ((f"do modelo {uid}", f"de {name}"), (f"model {uid}", name)):
        text = text.replace(uid_phrase, name_phrase)
    return text.replace(uid, name)


def redundant_model_uids(found: Iterable[gres.Finding]) -> set[str]:
    """Return the uids of the other models that redundancy findings name, from their check ids
    `redundant.<kind>.<other uid>`."""
    return {
        finding.rule_id.rsplit(".", 1)[-1]
        for finding in found
        if finding.kind == gres.FINDING_KIND_REDUNDANT_MODEL and finding.rule_id.startswith("redundant.")
    }
