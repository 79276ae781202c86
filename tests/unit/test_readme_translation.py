"""README.pt-BR.md keeps the same code examples as README.md."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _python_blocks(name: str) -> list[str]:
    text = (REPO / name).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_translation_has_same_code_examples() -> None:
    english = _python_blocks("README.md")
    portuguese = _python_blocks("README.pt-BR.md")
    assert len(portuguese) == len(english), "README.pt-BR.md needs every Python example of README.md"
    for index, (source, translated) in enumerate(zip(english, portuguese)):
        assert translated == source, f"Python example {index + 1} of README.pt-BR.md differs from README.md; copy it over"
