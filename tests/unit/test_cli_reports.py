"""Labels and free text of the CLI's printed reports, in English and pt-BR."""

from __future__ import annotations

import pytest

from modelward_cli.common import print_error
from modelward_cli.l10n import Localizer
from modelward_cli.promotions import show_promotion
from modelward_cli.reports import print_compliance
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import resources_pb2 as res

OTHER_UID = "0b7f3c2e-9d41-4e8a-a1c5-2f6d8e9b0a13"


def _report() -> gres.ModelCompliance:
    owner = gres.RuleResult(rule_id="owner", kind=gres.RULE_KIND_OWNER_REQUIRED, passed=True, applicable=True,
                            severity=gres.SEVERITY_ERROR, message="the owner is team:fraud")
    metric = gres.RuleResult(rule_id="auc", kind=gres.RULE_KIND_METRIC_THRESHOLD, passed=False, applicable=True,
                             severity=gres.SEVERITY_ERROR, blocks_promotion=True, message="auc is too low",
                             model_version="models/fraud/versions/2")
    return gres.ModelCompliance(
        name="models/fraud/compliance", policy_revision=2, model_results=[owner],
        versions=[gres.VersionCompliance(model_version="models/fraud/versions/2", stage=res.STAGE_STAGING,
                                         results=[metric])],
    )


def _findings() -> list[gres.Finding]:
    drift = gres.Finding(name="findings/1", model="models/fraud", model_version="models/fraud/versions/2",
                         kind=gres.FINDING_KIND_DRIFT, severity=gres.SEVERITY_WARNING,
                         rule_id="drift.data_drift.income", message="psi 0.3 on income")
    redundant = gres.Finding(name="findings/2", model="models/fraud", kind=gres.FINDING_KIND_REDUNDANT_MODEL,
                             severity=gres.SEVERITY_WARNING, rule_id=f"redundant.artifact_digest.{OTHER_UID}",
                             message=f"version 2 has the same artifact as version 1 of model {OTHER_UID} "
                                     "(similarity 1.000, threshold 1)")
    redundant.evidence.update({"version": 2, "other_version": 1, "other_model_uid": OTHER_UID,
                               "similarity": 1.0, "threshold": 1.0})
    return [drift, redundant]


def test_compliance_labels_in_portuguese(capsys) -> None:
    print_compliance(_report(), Localizer("pt-BR"), _findings(), {OTHER_UID: "models/fraud-copy"})
    out = capsys.readouterr().out

    assert "Versão da política: 2" in out
    assert "Revisão" not in out
    rows = [line for line in out.splitlines() if " owner " in line or " auc " in line]
    assert rows[0].startswith("Modelo ")
    assert " atendida " in rows[0]
    assert rows[1].startswith("Versão 2 ")
    assert " não atendida " in rows[1]
    assert "aprovada" not in out
    assert "drift em produção" in out
    assert "a versão 2 tem o mesmo artefato que a versão 1 de models/fraud-copy" in out
    assert f"do modelo {OTHER_UID}" not in out


def test_compliance_scope_capitalised_in_english(capsys) -> None:
    print_compliance(_report(), Localizer("en"), _findings())
    out = capsys.readouterr().out

    assert "Policy revision: 2" in out
    assert any(line.startswith("Model ") for line in out.splitlines())
    assert any(line.startswith("Version 2 ") for line in out.splitlines())
    assert f"version 1 of model {OTHER_UID}" in out


def test_review_comments_shown_escaped(capsys) -> None:
    decision = gres.ReviewerDecision(reviewer="user:bob@example.com", outcome=gres.DECISION_OUTCOME_REJECT,
                                     comment="bad \x1b[31mred\x07 data")
    promotion = gres.Promotion(name="promotions/1", model_version="models/fraud/versions/2",
                               state=gres.PROMOTION_STATE_REJECTED, decisions=[decision],
                               outcome_message="rejected by user:bob@example.com: bad \x1b[31mred\x07 data")

    show_promotion(promotion, "table")
    out = capsys.readouterr().out

    assert "\x1b" not in out
    assert "\x07" not in out
    assert r"user:bob@example.com reject (bad \x1b[31mred\x07 data)" in out


@pytest.mark.parametrize("message", ["model 'a\x1b]0;title\x07' not found", "\x9b2J cleared"])
def test_error_messages_escaped(capsys, message: str) -> None:
    print_error(f"first line\n{message}")
    err = capsys.readouterr().err

    assert err.startswith("modelward: first line\n")
    assert "\x1b" not in err
    assert "\x07" not in err
    assert "\x9b" not in err
