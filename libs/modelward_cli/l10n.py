"""Every translated label of the CLI's reports, and dates and numbers per language.

Languages: `en` and `pt-BR`. Labels are looked up by key; enum values by their short name (see
`modelward_sdk.names.enum_label`). Governance writes rule results and findings in English;
`modelward_cli.reasons` builds their pt-BR sentences from their kind and evidence.

Formats:
- en: dates `2024-05-03 14:07 UTC`, numbers `1,234.5`.
- pt-BR: dates `03/05/2024 14:07 UTC`, numbers `1.234,5` (comma for decimals, dot for thousands).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from modelward_sdk.names import enum_label

LANGUAGES = ("en", "pt-BR")

_LABELS: dict[str, dict[str, str]] = {
    "portfolio_title": {"en": "Model portfolio", "pt-BR": "Portfólio de modelos"},
    "compliance_title": {"en": "Compliance of {model}", "pt-BR": "Conformidade de {model}"},
    "generated": {"en": "Generated", "pt-BR": "Gerado em"},
    "model": {"en": "Model", "pt-BR": "Modelo"},
    "owner": {"en": "Owner", "pt-BR": "Responsável"},
    "team": {"en": "Team", "pt-BR": "Equipe"},
    "risk_tier": {"en": "Risk tier", "pt-BR": "Nível de risco"},
    "state": {"en": "State", "pt-BR": "Estado"},
    "versions": {"en": "Versions", "pt-BR": "Versões"},
    "in_production": {"en": "In production", "pt-BR": "Em produção"},
    "open_findings": {"en": "Open findings", "pt-BR": "Achados abertos"},
    "max_severity": {"en": "Highest severity", "pt-BR": "Maior severidade"},
    "compliant": {"en": "Compliant", "pt-BR": "Conforme"},
    "orphaned": {"en": "Orphaned", "pt-BR": "Órfão"},
    "redundant_with": {"en": "Redundant with", "pt-BR": "Redundante com"},
    "last_activity": {"en": "Last activity", "pt-BR": "Última atividade"},
    "total_models": {"en": "Models", "pt-BR": "Modelos"},
    "total_compliant": {"en": "Compliant models", "pt-BR": "Modelos conformes"},
    "total_orphaned": {"en": "Orphaned models", "pt-BR": "Modelos órfãos"},
    "total_findings": {"en": "Open findings", "pt-BR": "Achados abertos"},
    "compliance_rate": {"en": "Compliance rate", "pt-BR": "Taxa de conformidade"},
    "policy_revision": {"en": "Policy revision", "pt-BR": "Versão da política"},
    "evaluated": {"en": "Evaluated", "pt-BR": "Avaliado em"},
    "scope": {"en": "Scope", "pt-BR": "Escopo"},
    "scope_model": {"en": "Model", "pt-BR": "Modelo"},
    "version": {"en": "Version", "pt-BR": "Versão"},
    "stage": {"en": "Stage", "pt-BR": "Estágio"},
    "rule": {"en": "Rule", "pt-BR": "Regra"},
    "result": {"en": "Result", "pt-BR": "Resultado"},
    "severity": {"en": "Severity", "pt-BR": "Severidade"},
    "blocks_promotion": {"en": "Blocks promotion", "pt-BR": "Bloqueia promoção"},
    "message": {"en": "Message", "pt-BR": "Mensagem"},
    "passed": {"en": "passed", "pt-BR": "atendida"},
    "failed": {"en": "failed", "pt-BR": "não atendida"},
    "not_applicable": {"en": "not applicable", "pt-BR": "não se aplica"},
    "yes": {"en": "yes", "pt-BR": "sim"},
    "no": {"en": "no", "pt-BR": "não"},
    "none": {"en": "none", "pt-BR": "nenhum"},
    "never": {"en": "never", "pt-BR": "nunca"},
    "findings_title": {"en": "Open findings besides the policy rules", "pt-BR": "Achados abertos além das regras da política"},
    "no_findings": {"en": "none", "pt-BR": "nenhum"},
    "finding": {"en": "Finding", "pt-BR": "Achado"},
    "kind": {"en": "Kind", "pt-BR": "Tipo"},
    "subject": {"en": "Subject", "pt-BR": "Objeto"},
    "check": {"en": "Rule or check", "pt-BR": "Regra ou verificação"},
    "opened": {"en": "Opened", "pt-BR": "Aberto em"},
}

# Enum short names (RiskTier, ModelState, Stage, Severity, RuleKind, FindingKind, FindingState,
# AlertKind) in Brazilian Portuguese. Governance's evidence uses the same names.
_ENUM_PT_BR: dict[str, str] = {
    "low": "baixo", "medium": "médio", "high": "alto", "critical": "crítico",
    "active": "ativo", "archived": "arquivado", "deleted": "excluído",
    "none": "nenhum", "staging": "homologação", "production": "produção",
    "info": "informativo", "warning": "aviso", "error": "erro",
    "unspecified": "não definido",
    "required_metadata": "metadados obrigatórios", "owner_required": "responsável obrigatório",
    "metric_threshold": "limite de métrica", "lineage_required": "linhagem obrigatória",
    "forbidden_features": "atributos proibidos", "approvals_required": "aprovações obrigatórias",
    "max_days_without_review": "prazo máximo sem revisão", "drift_requires_review": "drift exige revisão",
    "policy_violation": "violação de política", "orphaned_model": "modelo órfão",
    "redundant_model": "modelo redundante", "drift": "drift em produção", "open": "aberto", "resolved": "resolvido",
    "data_drift": "drift de dados", "prediction_drift": "drift de predição", "concept_drift": "drift de conceito",
    "driver_shift": "mudança de influência",
}


def pt_br_label(label: str) -> str:
    """Return an enum short name in Brazilian Portuguese, or the name itself when it has no translation."""
    return _ENUM_PT_BR.get(label, label)


class Localizer:
    def __init__(self, language: str = "en") -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language {language!r} is not supported: use one of {', '.join(LANGUAGES)}")
        self.language = language

    def text(self, key: str, **values: object) -> str:
        return _LABELS[key][self.language].format(**values)

    def yes_no(self, value: bool) -> str:
        return self.text("yes" if value else "no")

    def enum(self, enum_type: Any, number: int) -> str:
        label = enum_label(enum_type, number) if number else "unspecified"
        if self.language == "pt-BR":
            return pt_br_label(label)
        return label.replace("_", " ")

    def number(self, value: float, decimals: int = 0) -> str:
        text = f"{value:,.{decimals}f}"
        if self.language == "pt-BR":
            text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return text

    def percent(self, fraction: float) -> str:
        return f"{self.number(fraction * 100, 1)} %" if self.language == "pt-BR" else f"{self.number(fraction * 100, 1)}%"

    def date(self, stamp: timestamp_pb2.Timestamp) -> str:
        if not stamp.seconds and not stamp.nanos:
            return self.text("never")
        moment = stamp.ToDatetime()
        pattern = "%d/%m/%Y %H:%M UTC" if self.language == "pt-BR" else "%Y-%m-%d %H:%M UTC"
        return moment.strftime(pattern)


def timestamp_text(stamp: timestamp_pb2.Timestamp) -> str:
    """Format a timestamp in English for the non-report tables; `-` when unset."""
    if not stamp.seconds and not stamp.nanos:
        return "-"
    return stamp.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")
