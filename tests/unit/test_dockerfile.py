"""The Dockerfile installs what pyproject.toml and docker-compose.yml expect, checked without Docker.

`build_context` copies what the Dockerfile's COPY instructions take from the repository, after
.dockerignore, and the tests build the wheel that `pip install .` would install from it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.support.compose import ROOT, dockerfile_instructions, load_compose

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# Any value works: these tests read the compose file's structure, not its passwords.
COMPOSE_VARIABLES = {
    f"MODELWARD_NATS_{user}_PASSWORD": "unused" for user in ("REGISTRY", "GOVERNANCE", "SUBSCRIBER")
}


def _dockerignore_patterns() -> list[re.Pattern[str]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), ".dockerignore exceptions (!) are not handled by this test; teach it"
        pattern = line.strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        patterns.append(re.compile(regex.replace(r"\?", "[^/]")))
    return patterns


def _ignored(relative: Path, patterns: list[re.Pattern[str]]) -> bool:
    """Return whether Docker leaves the path out of the build context: it or a parent folder matches."""
    candidates = [relative, *relative.parents[:-1]]
    return any(pattern.fullmatch(candidate.as_posix()) for pattern in patterns for candidate in candidates)


def _copies() -> list[tuple[list[str], str]]:
    copies = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "COPY":
            *sources, destination = arguments.split()
            assert not any(source.startswith("--") for source in sources), "COPY flags are not handled by this test"
            copies.append((sources, destination))
    return copies


@pytest.fixture(scope="module")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lay out /src as the image has it before `pip install .`: the COPYed files, after .dockerignore."""
    patterns = _dockerignore_patterns()
    context = tmp_path_factory.mktemp("docker-src")
    for sources, destination in _copies():
        for source in sources:
            origin = ROOT / source
            assert origin.exists(), f"the Dockerfile copies {source}, which does not exist"
            assert not _ignored(Path(source), patterns), f"the Dockerfile copies {source}, which .dockerignore leaves out"
            target = context / destination.removeprefix("./") / (origin.name if origin.is_file() and destination.endswith("/") else "")
            files = [origin] if origin.is_file() else sorted(path for path in origin.rglob("*") if path.is_file())
            for path in files:
                relative = path.relative_to(ROOT)
                if _ignored(relative, patterns):
                    continue
                placed = target if origin.is_file() else target / path.relative_to(origin)
                placed.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, placed)
    return context


@pytest.fixture(scope="module")
def wheel_names(build_context: Path, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Return the file names inside the wheel that `pip install .` builds from the build context."""
    output = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--wheel-dir", str(output), str(build_context)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = output.glob("modelward-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _compose_entrypoint_modules() -> list[str]:
    services = load_compose(COMPOSE_VARIABLES)["services"]
    modules = []
    for name, service in services.items():
        if "build" not in service:
            continue
        entrypoint = list(service["entrypoint"])
        assert entrypoint[:2] == ["python", "-m"], f"{name}: entrypoint {entrypoint} is not `python -m MODULE ...`"
        modules.append(entrypoint[2])
    return modules


def test_copied_files_are_what_pip_needs(build_context: Path) -> None:
    assert (build_context / "pyproject.toml").exists()
    # pyproject names its readme, which setuptools reads while building.
    assert (build_context / PYPROJECT["project"]["readme"]).exists()
    for folder in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["where"]:
        assert (build_context / folder).is_dir(), f"packages are found in {folder}, which the Dockerfile does not copy"


def test_wheel_has_compose_entrypoints(wheel_names: set[str]) -> None:
    for module in _compose_entrypoint_modules():
        assert f"{module}/__main__.py" in wheel_names, f"`python -m {module}` finds no {module}/__main__.py in the image"


def test_wheel_has_package_data(wheel_names: set[str]) -> None:
    source_data = {
        path.relative_to(root).as_posix()
        for folder in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["where"]
        for root in [ROOT / folder]
        for path in root.rglob("*")
        if path.suffix in {".yaml", ".pyi"} or path.name == "py.typed"
    }
    assert source_data, "no package data found in the source folders"
    missing = sorted(source_data - wheel_names)
    assert not missing, f"the image would lack these package files: {missing}"


def test_image_entrypoint_is_project_script() -> None:
    (entrypoint,) = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "ENTRYPOINT"]
    (command,) = re.findall(r'"([^"]+)"', entrypoint)
    target = PYPROJECT["project"]["scripts"][command]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("module", _compose_entrypoint_modules())
def test_compose_entrypoint_serve_runs(module: str) -> None:
    """`python -m MODULE serve --help` exits 0: the module and its `serve` command exist."""
    completed = subprocess.run([sys.executable, "-m", module, "serve", "--help"], capture_output=True, timeout=60,
                               cwd=ROOT.parent)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")


def test_healthcheck_imports_come_from_dependencies() -> None:
    """The compose healthchecks import grpc and grpc_health; the image has them only as dependencies."""
    declared = {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in PYPROJECT["project"]["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    for name, service in load_compose(COMPOSE_VARIABLES)["services"].items():
        if "build" not in service:
            continue
        script = ast.parse(service["healthcheck"]["test"][-1])
        imported = {alias.name for node in ast.walk(script) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(script) if isinstance(node, ast.ImportFrom) and node.module}
        for module in sorted({name.split(".")[0] for name in imported}):
            if module in sys.stdlib_module_names:
                continue
            distributions = {distribution.lower() for distribution in providers.get(module, [])}
            assert distributions & declared, f"{name}'s healthcheck imports {module}, which no dependency provides"


def test_base_image_python_meets_requires_python() -> None:
    (base,) = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "FROM"]
    match = re.fullmatch(r"python:(\d+)\.(\d+)[\w.-]*", base)
    assert match, f"the test reads python:X.Y base images only, not {base}"
    required = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert required
    assert (int(match[1]), int(match[2])) >= (int(required[1]), int(required[2]))
