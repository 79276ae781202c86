"""modelward end to end with real scikit-learn models and data, through the Python SDK.

Run it against a running stack (`bash scripts/up` in another terminal):

    .venv/bin/python examples/walkthrough.py

It acts as several people (AUTHOR, REVIEWERS and RISK_OFFICE below). With the admin token that
`modelward up` writes, it binds their roles and creates one API token each through the
AccessService, waits until governance accepts those tokens, and revokes them when it ends.

The registry must govern the production stage, as it does unless started with
`--governed-stages none`; otherwise promotions are not gated and the walkthrough stops.

It stores examples/walkthrough_policy.yaml as the governance policy, then:

1. trains models on scikit-learn's breast cancer, wine and diabetes datasets and registers them
   with lineage: dataset digests of the actual training data, hyperparameters, metrics, feature
   names and the git commit;
2. registers a copy of one model under another name and a model without an owner, and waits
   for governance to flag them as redundant and orphaned;
3. requests promotions: an under-performing version is rejected by the AUC rule, and a high-risk
   version passes only after two reviewers other than its author approve;
4. uploads reference data, streams production data that drifts (a shifted feature, then a
   changed feature-target relationship with stable marginals) and waits for drift, concept
   drift and driver-shift alerts and for CheckDeployment to deny the version;
5. prints the portfolio.

`run_walkthrough` returns a WalkthroughResult, so a test can assert on what governance decided.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pickle
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_sdk import (
    AccessClient,
    GovernanceClient,
    PermissionDeniedError,
    RegistryClient,
    RpcError,
    UnauthenticatedError,
    dataset_digest,
    file_digest,
)
from modelward_sdk.names import enum_label

POLICY_FILE = Path(__file__).with_name("walkthrough_policy.yaml")
AUTHOR = "user:ana@example.com"
REVIEWERS = ("user:carla@example.com", "user:dan@example.com")
RISK_OFFICE = "user:risk-office@example.com"
# Global roles bound to each principal when the walkthrough provisions them itself.
CAST_ROLES: tuple[tuple[str, str], ...] = (
    (AUTHOR, "contributor"),
    # The author is also a reviewer, so separation of duties, not a missing role, is what stops
    # the author approving their own version.
    (AUTHOR, "reviewer"),
    *((reviewer, "reviewer") for reviewer in REVIEWERS),
    (RISK_OFFICE, "reviewer"),
    # Only admins may replace the governance policy, which the risk office stores first.
    (RISK_OFFICE, "admin"),
)
# Lifetime of the provisioned tokens: they are revoked at the end, and expire even when a killed
# run never gets there.
CAST_TOKEN_LIFETIME = dt.timedelta(hours=2)
# Seconds to wait for governance to consume an event or finish a monitoring window.
SETTLE_TIMEOUT = 60.0
# Rows per production window; the monitoring config below cuts windows of this size.
WINDOW_ROWS = 400
# Production rows sent before their labels follow.
LABEL_CHUNK_ROWS = 100

T = TypeVar("T")


@dataclass
class Decision:
    """Governance's decision about one promotion request."""

    version: str
    state: str
    failing_rule_ids: list[str]
    approvals: list[str]
    required_approvals: int


@dataclass
class WalkthroughResult:
    # Model ids by role: screening, copy, ownerless, wine, diabetes.
    models: dict[str, str]
    # Open findings as (kind, model id, rule or check id).
    findings: set[tuple[str, str, str]]
    decisions: dict[str, Decision]
    # Status code name of the author's attempt to approve their own version.
    self_approval_error: str
    deployment_allowed_after_approval: bool
    portfolio: list[gres.PortfolioEntry]
    # Alerts raised for the drifting version, open or already resolved by a later window, as
    # (kind, feature), and CheckDeployment's denial codes after the drift.
    alerts: set[tuple[str, str]] = field(default_factory=set)
    deployment_denials_after_drift: list[str] = field(default_factory=list)


@dataclass
class Trained:
    estimator: Any
    features: list[str]
    train: pd.DataFrame
    test: pd.DataFrame
    target: str
    metrics: dict[str, float]
    hyperparameters: dict[str, object]


def run_walkthrough(
    registry_target: str | None = None,
    governance_target: str | None = None,
    *,
    run_id: str | None = None,
    out: Callable[[str], None] = print,
    token: str | None = None,
    tokens: Mapping[str, str] | None = None,
) -> WalkthroughResult:
    """Run every step and return what governance found and decided.

    `tokens` maps each principal the walkthrough acts as (AUTHOR, REVIEWERS, RISK_OFFICE) to its
    bearer token, and a principal without one uses `token`. When `tokens` is None, `token` must
    be an admin's: the walkthrough then binds CAST_ROLES and creates a token per principal, and
    revokes those tokens before it returns or raises. `token` defaults to the SDK's usual
    sources, such as the admin-token file of `modelward up`.
    """
    suffix = run_id or uuid.uuid4().hex[:6]
    cast = _Cast(registry_target, governance_target, token, out) if tokens is None else None
    clients: _Clients | None = None
    try:
        if cast is not None:
            tokens = cast.provision(suffix)
        clients = _Clients(registry_target, governance_target, token, dict(tokens or {}))
        return _Walkthrough(clients, suffix, out).run()
    finally:
        if clients is not None:
            clients.close()
        if cast is not None:
            cast.revoke_tokens()


class _Cast:
    """Provisions the walkthrough's principals through the AccessService, as an admin."""

    def __init__(
        self, registry_target: str | None, governance_target: str | None, admin_token: str | None,
        out: Callable[[str], None],
    ) -> None:
        self.registry_target = registry_target
        self.governance_target = governance_target
        self.admin_token = admin_token
        self.out = out
        self.token_names: list[str] = []

    def provision(self, suffix: str) -> dict[str, str]:
        """Bind the missing CAST_ROLES, create a token per principal and return the secrets."""
        secrets: dict[str, str] = {}
        with AccessClient(self.registry_target, token=self.admin_token) as access:
            try:
                self._bind_missing_roles(access)
            except (PermissionDeniedError, UnauthenticatedError) as error:
                raise SystemExit(
                    f"provisioning the walkthrough's principals needs an admin token: {error.message}. "
                    "Pass the admin token of 'modelward up' (--token or MODELWARD_TOKEN), or run with "
                    "MODELWARD_HOME set to its data folder."
                ) from None
            # Tokens come after the bindings: governance applies the registry's events in order,
            # so once it accepts a token it has applied that principal's bindings too.
            for principal in dict.fromkeys(principal for principal, _ in CAST_ROLES):
                created = access.create_api_token(
                    principal, display_name=f"walkthrough {suffix}", expire_time=CAST_TOKEN_LIFETIME,
                    reason="walkthrough run " + suffix,
                )
                self.token_names.append(created.api_token.name)
                secrets[principal] = created.secret
                self.out(f"created {created.api_token.name} for {principal}")
        self._wait_for_governance(secrets)
        return secrets

    def _bind_missing_roles(self, access: AccessClient) -> None:
        # A rerun finds the bindings of the first run and adds none.
        for principal in dict.fromkeys(principal for principal, _ in CAST_ROLES):
            bound_roles = {
                enum_label(access_pb.Role, binding.role)
                for binding in access.list_role_bindings(principal=principal)
                if not binding.scope.team and not binding.scope.model_uid
            }
            for role in (role for who, role in CAST_ROLES if who == principal and role not in bound_roles):
                binding = access.create_role_binding(principal, role, reason="walkthrough cast")
                self.out(f"bound {role} to {principal} ({binding.name})")

    def _wait_for_governance(self, secrets: Mapping[str, str]) -> None:
        started = time.monotonic()
        for principal, secret in secrets.items():
            with GovernanceClient(self.governance_target, token=secret) as governance:

                def accepted() -> bool | None:
                    try:
                        governance.get_policy()
                    except (PermissionDeniedError, UnauthenticatedError):
                        return None
                    return True

                _wait_for(accepted, f"governance to accept the token and roles of {principal}")
        self.out(f"governance accepted the walkthrough's tokens after {time.monotonic() - started:.1f} s")

    def revoke_tokens(self) -> None:
        """Revoke every token `provision` created; a failure is reported and the rest still revoked."""
        if not self.token_names:
            return
        revoked = 0
        with AccessClient(self.registry_target, token=self.admin_token) as access:
            for name in self.token_names:
                try:
                    access.revoke_api_token(name, reason="walkthrough finished")
                except RpcError as error:
                    self.out(f"could not revoke {name}: {error}; revoke it with 'modelward access token revoke {name}'")
                else:
                    revoked += 1
        self.out(f"revoked {revoked} of {len(self.token_names)} walkthrough tokens")
        self.token_names.clear()


class _Clients:
    """One registry and one governance client per principal, all opened on first use."""

    def __init__(
        self, registry_target: str | None, governance_target: str | None, token: str | None, tokens: dict[str, str]
    ) -> None:
        self.registry_target = registry_target
        self.governance_target = governance_target
        self.token = token
        self.tokens = tokens
        self._open: dict[tuple[str, str], RegistryClient | GovernanceClient] = {}

    def registry(self, principal: str = AUTHOR) -> RegistryClient:
        key = ("registry", principal)
        if key not in self._open:
            self._open[key] = RegistryClient(
                self.registry_target, token=self.tokens.get(principal, self.token)
            )
        return self._open[key]  # type: ignore[return-value]

    def governance(self, principal: str = AUTHOR) -> GovernanceClient:
        key = ("governance", principal)
        if key not in self._open:
            self._open[key] = GovernanceClient(
                self.governance_target, token=self.tokens.get(principal, self.token)
            )
        return self._open[key]  # type: ignore[return-value]

    def close(self) -> None:
        for client in self._open.values():
            client.close()


class _Walkthrough:
    def __init__(self, clients: _Clients, suffix: str, out: Callable[[str], None]) -> None:
        self.clients = clients
        self.out = out
        self.workdir = Path(tempfile.mkdtemp(prefix="modelward-walkthrough-"))
        self.commit = _git_commit()
        self.models = {
            role: f"{name}-{suffix}"
            for role, name in (("screening", "bc-screening"), ("copy", "bc-screening-copy"),
                               ("ownerless", "wine-experiment"), ("wine", "wine-cultivar"),
                               ("diabetes", "diabetes-progression"))
        }

    def run(self) -> WalkthroughResult:
        self._store_policy()
        weak, strong = self._register_screening()
        self._register_copy_and_ownerless(strong)
        self._register_wine_and_diabetes()
        findings = self._wait_for_flags()

        decisions: dict[str, Decision] = {}
        decisions["under_performing"] = self._promote_and_expect_rejection(weak)
        approved, self_error = self._promote_with_reviewers(strong)
        decisions["high_risk"] = approved
        allowed = self._check(strong.name).allowed
        self.out(f"CheckDeployment after two approvals: {'allowed' if allowed else 'denied'}")

        result = WalkthroughResult(
            models=dict(self.models), findings=findings, decisions=decisions, self_approval_error=self_error,
            deployment_allowed_after_approval=allowed, portfolio=[],
        )
        self._monitor(strong, self._screening, result)
        result.findings = self._open_findings()
        result.portfolio = self._print_portfolio()
        return result

    # Policy and registration

    def _store_policy(self) -> None:
        governance = self.clients.governance(RISK_OFFICE)
        yaml_text = POLICY_FILE.read_text(encoding="utf-8")
        checked = governance.validate_policy(yaml_text)
        if not checked.valid:
            raise SystemExit("; ".join(problem.text for problem in checked.problems))
        current = governance.get_policy()
        if current.sha256 == checked.sha256:
            self.out(f"policy {current.name} is already the walkthrough policy")
            return
        policy = governance.replace_policy(yaml_text, etag=current.etag, reason="walkthrough policy")
        self.out(f"stored {policy.name} with {len(policy.rules)} rules")

    def _register_screening(self) -> tuple[res.ModelVersion, res.ModelVersion]:
        frame = load_breast_cancer(as_frame=True).frame
        registry = self.clients.registry()
        model = self.models["screening"]
        registry.create_model(
            model, owner="team:oncology-ml", team="oncology-ml", risk_tier="high",
            task_type="binary_classification", description="Flags breast tissue samples for review",
            tags={"domain": "health"}, reason="walkthrough",
        )
        weak = _train_classifier(frame, "target", ["mean fractal dimension", "texture error"],
                                 LogisticRegression(max_iter=1000), binary=True)
        strong = _train_classifier(frame, "target", [c for c in frame.columns if c != "target"],
                                   make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), binary=True)
        self._screening = strong
        weak_version = self._register_version(model, weak, "baseline on two features")
        strong_version = self._register_version(model, strong, "logistic regression on all 30 features")
        return weak_version, strong_version

    def _register_copy_and_ownerless(self, original: res.ModelVersion) -> None:
        registry = self.clients.registry()
        registry.create_model(
            self.models["copy"], owner="team:radiology-ml", team="radiology-ml", risk_tier="high",
            task_type="binary_classification", description="Second registration of the screening model",
            tags={"domain": "health"},
        )
        copy = registry.create_model_version(
            self.models["copy"], template=original, description="the same artifact, registered again",
        )
        self.out(f"registered {copy.name} with the artifact of {original.name}")

        frame = load_wine(as_frame=True).frame
        trained = _train_classifier(frame, "target", [c for c in frame.columns if c != "target"][:5],
                                    RandomForestClassifier(n_estimators=50, random_state=0), binary=False)
        registry.create_model(
            self.models["ownerless"], risk_tier="medium", task_type="multiclass_classification",
            description="An experiment nobody owns",
        )
        self._register_version(self.models["ownerless"], trained, "random forest on five features")

    def _register_wine_and_diabetes(self) -> None:
        registry = self.clients.registry()
        wine = load_wine(as_frame=True).frame
        trained = _train_classifier(wine, "target", [c for c in wine.columns if c != "target"],
                                    RandomForestClassifier(n_estimators=100, random_state=0), binary=False)
        registry.create_model(
            self.models["wine"], owner="team:beverages", team="beverages", risk_tier="medium",
            task_type="multiclass_classification", description="Predicts the cultivar of a wine",
        )
        self._register_version(self.models["wine"], trained, "random forest on 13 features")

        diabetes = load_diabetes(as_frame=True).frame
        regression = _train_regressor(diabetes, "target", Ridge(alpha=1.0))
        registry.create_model(
            self.models["diabetes"], owner="team:endocrinology", team="endocrinology", risk_tier="low",
            task_type="regression", description="Predicts disease progression after one year",
        )
        self._register_version(self.models["diabetes"], regression, "ridge regression")

    def _register_version(self, model: str, trained: Trained, description: str) -> res.ModelVersion:
        artifact_path = self.workdir / f"{model}-{len(list(self.workdir.iterdir()))}.pkl"
        artifact_path.write_bytes(pickle.dumps(trained.estimator))
        train_table = trained.train[[*trained.features, trained.target]]
        test_table = trained.test[[*trained.features, trained.target]]
        version = self.clients.registry().create_model_version(
            model,
            description=description,
            artifact=res.Artifact(uri=artifact_path.as_uri(), sha256=file_digest(artifact_path),
                                  size_bytes=artifact_path.stat().st_size, format="sklearn"),
            lineage=res.Lineage(
                training_dataset=res.DatasetRef(uri=f"sklearn://{model}/train", sha256=dataset_digest(train_table),
                                                row_count=len(train_table)),
                evaluation_dataset=res.DatasetRef(uri=f"sklearn://{model}/test", sha256=dataset_digest(test_table),
                                                  row_count=len(test_table)),
                code_repository="modelward/examples", code_commit=self.commit,
            ),
            metrics=trained.metrics,
            hyperparameters=trained.hyperparameters,
            feature_names=trained.features,
            signature=res.Signature(
                inputs=[res.ColumnSpec(name=name, dtype="float64") for name in trained.features],
                outputs=[res.ColumnSpec(name="prediction", dtype="float64")],
            ),
            tags={"framework": "scikit-learn"},
            reason="trained by the walkthrough",
        )
        shown = ", ".join(f"{name}={value:.3f}" for name, value in trained.metrics.items())
        self.out(f"registered {version.name}: {shown}")
        return version

    # Findings

    def _wait_for_flags(self) -> set[tuple[str, str, str]]:
        def flagged() -> set[tuple[str, str, str]] | None:
            found = self._open_findings()
            kinds = {(kind, model) for kind, model, _ in found}
            wanted = {("redundant_model", self.models["copy"]), ("orphaned_model", self.models["ownerless"])}
            return found if wanted <= kinds else None

        found = _wait_for(flagged, "governance to flag the redundant and the ownerless model")
        for kind, model, check in sorted(found):
            self.out(f"finding: {kind} on {model} ({check})")
        return found

    def _open_findings(self) -> set[tuple[str, str, str]]:
        ours = set(self.models.values())
        found = set()
        for finding in self.clients.governance().list_findings(state="open"):
            model = finding.model.removeprefix("models/")
            if model in ours:
                found.add((enum_label(gres.FindingKind, finding.kind), model, finding.rule_id))
        return found

    # Promotions

    def _promote_and_expect_rejection(self, version: res.ModelVersion) -> Decision:
        self._request_production(version)

        def rejected() -> gres.Promotion | None:
            for promotion in self.clients.governance().list_promotions(model=self.models["screening"]):
                if promotion.model_version == version.name and promotion.state == gres.PROMOTION_STATE_REJECTED:
                    return promotion
            return None

        promotion = _wait_for(rejected, f"governance to reject the promotion of {version.name}")
        self.out(f"promotion of {version.name} rejected by {', '.join(promotion.failing_rule_ids)}: "
                 f"{promotion.outcome_message}")
        return _decision(promotion)

    def _promote_with_reviewers(self, version: res.ModelVersion) -> tuple[Decision, str]:
        self._request_production(version)
        governance = self.clients.governance()

        def awaiting() -> gres.Promotion | None:
            try:
                promotion = governance.get_promotion(version.name)
            except RpcError:
                return None
            return promotion if promotion.state == gres.PROMOTION_STATE_AWAITING_DECISIONS else None

        promotion = _wait_for(awaiting, f"the promotion of {version.name} to pass its checks")
        self.out(f"{version.name} passed its checks and needs {promotion.required_approvals} approvals")
        self_error = ""
        try:
            governance.approve_version(version.name, comment="I trained it, it is fine")
        except PermissionDeniedError as error:
            self_error = error.code.name
            self.out(f"the author may not approve: {error.message}")
        for reviewer in REVIEWERS:
            promotion = self.clients.governance(reviewer).approve_version(
                version.name, comment="metrics and lineage reviewed"
            )
            self.out(f"{reviewer} approved; promotion is {enum_label(gres.PromotionState, promotion.state)}")

        registry = self.clients.registry()

        def in_production() -> res.ModelVersion | None:
            current = registry.get_model_version(version.name)
            return current if current.stage == res.STAGE_PRODUCTION else None

        _wait_for(in_production, f"{version.name} to reach production")
        return _decision(promotion), self_error

    def _request_production(self, version: res.ModelVersion) -> None:
        requested = self.clients.registry().transition_stage(version.name, "production", reason="ready to serve")
        if requested.pending_stage != res.STAGE_PRODUCTION:
            raise SystemExit(
                f"{version.name} moved to {enum_label(res.Stage, requested.stage)} without a promotion: the registry "
                "does not govern the production stage. Restart it without `--governed-stages none` (or with MODELWARD_GOVERNED_STAGES=PRODUCTION)."
            )
        self.out(f"requested production for {version.name}")

    def _check(self, version_name: str) -> Any:
        model, number = version_name.removeprefix("models/").split("/versions/")
        return self.clients.governance().check_deployment(model, version=int(number))

    # Monitoring

    def _monitor(self, version: res.ModelVersion, trained: Trained, result: WalkthroughResult) -> None:
        governance = self.clients.governance()
        config = mon.MonitoringConfig(
            name=version.name, window_rows=WINDOW_ROWS, min_window_rows=WINDOW_ROWS // 2,
            prediction_column="prediction",
            concept_drift=mon.ConceptDriftConfig(metric="auc", warning=0.05, critical=0.15, min_labeled_rows=100),
            driver_shift=mon.DriverShiftConfig(warning=0.1, critical=0.3),
        )
        governance.set_monitoring_config(config, reason="walkthrough monitoring")

        reference = trained.train[trained.features].copy()
        reference["prediction"] = trained.estimator.predict_proba(reference[trained.features])[:, 1]
        reference["label"] = trained.train[trained.target].to_numpy()
        uploaded = governance.upload_reference_data(
            version.name, reference, prediction_column="prediction", label_column="label",
            chunk_rows=100, progress=lambda done, total: self.out(f"  reference rows {done}/{total}"),
        )
        self.out(f"uploaded {uploaded.row_count} reference rows, sha256 {uploaded.sha256}")

        rng = np.random.default_rng(0)
        population = pd.concat([trained.train, trained.test])
        shifted = _resample(population, WINDOW_ROWS, rng)
        shifted["mean radius"] = shifted["mean radius"] + 2.0 * trained.train["mean radius"].std()
        self._send_production(version.name, trained, shifted, labels_flipped=False, window="shifted")

        relation = _resample(population, WINDOW_ROWS, rng)
        # Same marginals, other relationship: the most important feature is shuffled across rows and
        # the labels are flipped, so each column's distribution stays while what predicts what changes.
        relation["worst concave points"] = rng.permutation(relation["worst concave points"].to_numpy())
        self._send_production(version.name, trained, relation, labels_flipped=True, window="relationship")

        wanted = {"data_drift", "concept_drift", "driver_shift"}

        def alerted() -> set[tuple[str, str]] | None:
            alerts = {
                (enum_label(mon.AlertKind, alert.kind), alert.feature)
                for alert in governance.list_alerts(model_version=version.name)
            }
            return alerts if wanted <= {kind for kind, _ in alerts} else None

        result.alerts = _wait_for(alerted, "drift, concept drift and driver-shift alerts")
        for kind, feature in sorted(result.alerts):
            self.out(f"alert: {kind} on {feature}")

        def denied() -> list[str] | None:
            decision = self._check(version.name)
            return None if decision.allowed else [enum_label(gres.DenialCode, reason.code) for reason in decision.reasons]

        result.deployment_denials_after_drift = _wait_for(denied, "CheckDeployment to deny the drifting version")
        self.out(f"CheckDeployment after drift: denied ({', '.join(result.deployment_denials_after_drift)})")

    def _send_production(
        self, name: str, trained: Trained, rows: pd.DataFrame, *, labels_flipped: bool, window: str
    ) -> None:
        """Send rows in chunks, each followed by its labels, as a service would as outcomes arrive.

        Governance evaluates a window when its last row arrives, so labels must reach the rows
        while the window is still open. The last chunk's labels come too late and are not counted.
        """
        governance = self.clients.governance()
        features = rows[trained.features].copy()
        features["prediction"] = trained.estimator.predict_proba(features[trained.features])[:, 1]
        labels = rows[trained.target].to_numpy().astype(np.int64)
        if labels_flipped:
            labels = 1 - labels
        matched = 0
        for start in range(0, len(features), LABEL_CHUNK_ROWS):
            chunk = features.iloc[start:start + LABEL_CHUNK_ROWS]
            request_ids = [f"{window}-{uuid.uuid4().hex[:12]}" for _ in range(len(chunk))]
            governance.report_production_data(name, chunk, request_ids=request_ids)
            joined = governance.report_labels(name, request_ids, labels[start:start + LABEL_CHUNK_ROWS])
            matched += joined.matched_count
            self.out(f"  {window} rows {start + len(chunk)}/{len(features)}")
        self.out(f"sent {len(features)} {window} rows and {matched} labels")

    # Portfolio

    def _print_portfolio(self) -> list[gres.PortfolioEntry]:
        ours = {f"models/{model}" for model in self.models.values()}
        entries = [entry for entry in self.clients.governance().list_portfolio() if entry.model in ours]
        self.out("")
        self.out(f"{'MODEL':34} {'OWNER':22} {'RISK':8} {'FINDINGS':>8}  COMPLIANT  ORPHANED  REDUNDANT WITH")
        for entry in entries:
            redundant = ", ".join(name.removeprefix("models/") for name in entry.redundant_with) or "-"
            self.out(f"{entry.model.removeprefix('models/'):34} {entry.owner or '-':22} "
                     f"{enum_label(res.RiskTier, entry.risk_tier):8} {entry.open_findings_count:>8}  "
                     f"{'yes' if entry.compliant else 'no':9}  {'yes' if entry.orphaned else 'no':8}  {redundant}")
        return entries


def _train_classifier(frame: pd.DataFrame, target: str, features: list[str], estimator: Any, *, binary: bool) -> Trained:
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame[target])
    estimator.fit(train[features], train[target])
    predicted = estimator.predict(test[features])
    metrics = {"accuracy": float(accuracy_score(test[target], predicted))}
    if binary:
        metrics["auc"] = float(roc_auc_score(test[target], estimator.predict_proba(test[features])[:, 1]))
    return Trained(estimator, features, train, test, target, metrics, _hyperparameters(estimator))


def _train_regressor(frame: pd.DataFrame, target: str, estimator: Any) -> Trained:
    features = [column for column in frame.columns if column != target]
    train, test = train_test_split(frame, test_size=0.25, random_state=0)
    estimator.fit(train[features], train[target])
    predicted = estimator.predict(test[features])
    metrics = {
        "r2": float(r2_score(test[target], predicted)),
        "rmse": float(np.sqrt(mean_squared_error(test[target], predicted))),
    }
    return Trained(estimator, features, train, test, target, metrics, _hyperparameters(estimator))


def _hyperparameters(estimator: Any) -> dict[str, object]:
    """Return the estimator's scalar parameters, leaving out nested estimators of a pipeline."""
    return {
        name: value for name, value in estimator.get_params(deep=True).items()
        if isinstance(value, (int, float, str, bool)) or value is None
    }


def _resample(frame: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw `rows` rows with replacement, as production traffic from the same population."""
    picked = frame.iloc[rng.integers(0, len(frame), size=rows)].reset_index(drop=True)
    return picked.copy()


def _decision(promotion: gres.Promotion) -> Decision:
    return Decision(
        version=promotion.model_version,
        state=enum_label(gres.PromotionState, promotion.state),
        failing_rule_ids=list(promotion.failing_rule_ids),
        approvals=[d.reviewer for d in promotion.decisions if d.outcome == gres.DECISION_OUTCOME_APPROVE],
        required_approvals=promotion.required_approvals,
    )


def _wait_for(check: Callable[[], T | None], what: str, timeout: float = SETTLE_TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.25)


def _git_commit() -> str:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return completed.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", metavar="HOST:PORT",
                        help="registry address (default: $MODELWARD_REGISTRY, else endpoints.json of 'modelward up')")
    parser.add_argument("--governance", metavar="HOST:PORT",
                        help="governance address (default: $MODELWARD_GOVERNANCE, else endpoints.json)")
    parser.add_argument("--token", help="bearer token (default: $MODELWARD_TOKEN, else the admin-token file)")
    parser.add_argument("--run-id", help="suffix of the model ids, so reruns do not collide (default: random)")
    args = parser.parse_args(argv)
    run_walkthrough(args.registry, args.governance, run_id=args.run_id, token=args.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
