"""CSV uploads from the CLI: byte order marks, header-only files and registered feature names."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tests.e2e.test_cli import run_cli, stack  # noqa: F401  (stack is a fixture)

INVALID_EXIT = 4
BOM = "\ufeff"


async def _version_with_features(stack, capsys, tmp_path: Path, model: str) -> None:  # noqa: F811
    await run_cli(stack, capsys, "models", "create", model, "--owner", "team:growth")
    spec = tmp_path / f"{model}.yaml"
    spec.write_text(
        "artifact: {uri: 's3://models/" + model + ".onnx', sha256: '" + "ab" * 32 + "', format: onnx}\n"
        "feature_names: [tenure, plan]\n",
        encoding="utf-8",
    )
    code, _, err = await run_cli(stack, capsys, "versions", "create", model, "--file", str(spec))
    assert code == 0, err
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code, out, _ = await run_cli(stack, capsys, "portfolio", "--output", "json")
        entries = {entry["model"]: entry for entry in json.loads(out)} if code == 0 else {}
        if entries.get(f"models/{model}", {}).get("versions"):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"governance did not show models/{model}/versions/1 within 20 s")


async def test_bom_csv_keeps_column_names(stack, capsys, tmp_path: Path) -> None:  # noqa: F811
    await _version_with_features(stack, capsys, tmp_path, "cli-bom")
    reference = tmp_path / "reference.csv"
    reference.write_text(BOM + "tenure,plan\n" + "".join(f"{i},basic\n" for i in range(50)), encoding="utf-8")
    production = tmp_path / "production.csv"
    production.write_text(BOM + "tenure,plan\n3,basic\n4,pro\n", encoding="utf-8")

    code, out, err = await run_cli(stack, capsys, "drift", "upload-reference", "cli-bom", "1", str(reference),
                                   "--output", "json")
    assert code == 0, err
    assert json.loads(out)["column_names"] == ["tenure", "plan"]

    code, out, err = await run_cli(stack, capsys, "drift", "report-production", "cli-bom", "1", str(production))
    assert code == 0, err
    assert "sent 2 production rows" in out


async def test_csv_missing_feature_rejected(stack, capsys, tmp_path: Path) -> None:  # noqa: F811
    await _version_with_features(stack, capsys, tmp_path, "cli-features")
    partial = tmp_path / "partial.csv"
    partial.write_text("tenure,score\n3,0.5\n", encoding="utf-8")

    for action in ("upload-reference", "report-production"):
        code, _, err = await run_cli(stack, capsys, "drift", action, "cli-features", "1", str(partial))
        assert code == INVALID_EXIT, err
        assert str(partial) in err
        assert "lacks feature column(s) 'plan'" in err
        assert "feature_names (tenure, plan)" in err

    code, out, _ = await run_cli(stack, capsys, "drift", "report", "cli-features", "1")
    assert code == 0
    assert "0 reference rows" in out


async def test_csv_extra_reference_column_warned(stack, capsys, tmp_path: Path) -> None:  # noqa: F811
    await _version_with_features(stack, capsys, tmp_path, "cli-extra")
    reference = tmp_path / "reference.csv"
    reference.write_text("tenure,plan,row_id,score\n" + "".join(f"{i},basic,{i},0.{i % 10}\n" for i in range(50)),
                         encoding="utf-8")

    code, _, err = await run_cli(stack, capsys, "drift", "upload-reference", "cli-extra", "1", str(reference),
                                 "--prediction-column", "score")
    assert code == 0, err
    assert "warning:" in err
    assert "column(s) 'row_id' that are not in the feature_names of version 1 of cli-extra" in err
    assert "'score'" not in err
