"""Generate the Python protobuf and gRPC modules from protos/ into libs/modelward_protos/.

protoc names Python modules after the proto package (`modelward.registry.v1`), which would
collide with hand-written code, so this script rewrites the generated imports to live under the
`modelward_protos` package. Run it after every change to protos/:

    python scripts/gen_protos.py            # rewrite libs/modelward_protos
    python scripts/gen_protos.py --out DIR  # write elsewhere (the staleness test does this)
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "protos"
DEFAULT_OUT = REPO / "libs" / "modelward_protos"
GENERATED_PACKAGE = "modelward_protos"

_IMPORT = re.compile(r"^(from|import) modelward(\.| )", re.MULTILINE)


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def run_protoc(out_dir: Path) -> None:
    from grpc_tools import protoc
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(path.relative_to(PROTO_ROOT)) for path in proto_files()],
    ]
    status = protoc.main(args)
    if status != 0:
        raise SystemExit(f"protoc failed with status {status}")


def rewrite_imports(source: str) -> str:
    return _IMPORT.sub(lambda m: f"{m.group(1)} {GENERATED_PACKAGE}{m.group(2)}", source)


def generate(out: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        run_protoc(scratch_dir)
        generated_root = scratch_dir / "modelward"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for path in sorted(generated_root.rglob("*")):
            if path.is_dir():
                continue
            target = out / path.relative_to(generated_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rewrite_imports(path.read_text()))
        for folder in [out, *sorted(p for p in out.rglob("*") if p.is_dir())]:
            (folder / "__init__.py").touch()
        (out / "py.typed").touch()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    generate(args.out)
    print(f"generated {len(proto_files())} proto files into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
