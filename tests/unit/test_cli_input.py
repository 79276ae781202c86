"""Command-line input that the CLI rejects or renders before any service is called."""

from __future__ import annotations

import pytest

from modelward_cli.drift import read_csv_columns
from modelward_cli.main import main

USAGE_EXIT = 2
INVALID_EXIT = 4

BAD_SECONDS = {
    "nan": ("nan", "not a finite number"),
    "inf": ("inf", "not a finite number"),
    "minus-inf": ("-inf", "not a finite number"),
    "overflow": ("1e999", "not a finite number"),
    "negative": ("-5", "must be above 0"),
    "zero": ("0", "must be above 0"),
    "text": ("soon", "is not a number"),
}

# One command per option that takes seconds; none of them reaches a service.
SECONDS_OPTIONS = {
    "timeout": ["models", "get", "churn", "--registry", "127.0.0.1:9"],
    "audit-timeout": ["audit", "verify", "--target", "registry", "--address", "127.0.0.1:9"],
    "upload-timeout": ["drift", "report-production", "churn", "1", "data.csv", "--governance", "127.0.0.1:9"],
}
SECONDS_OPTION_NAMES = {"timeout": "--timeout", "audit-timeout": "--timeout", "upload-timeout": "--upload-timeout"}


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    return int(stopped.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("option", SECONDS_OPTIONS, ids=SECONDS_OPTIONS.keys())
@pytest.mark.parametrize(("text", "problem"), BAD_SECONDS.values(), ids=BAD_SECONDS.keys())
def test_seconds_option_rejected(capsys, option, text, problem) -> None:
    flag = SECONDS_OPTION_NAMES[option]
    # The '=' form passes values such as '-5' that argparse would otherwise read as an option.
    code, err = run(capsys, [*SECONDS_OPTIONS[option], f"{flag}={text}"])

    assert code == USAGE_EXIT, err
    assert f"argument {flag}" in err
    assert repr(text) in err
    assert problem in err


@pytest.mark.parametrize("text", ["nan", "inf", "-1"])
def test_promote_wait_rejected(capsys, text) -> None:
    code, err = run(capsys, ["promote", "churn", "1", "--registry", "127.0.0.1:9", f"--wait={text}"])

    assert code == USAGE_EXIT, err
    assert "argument --wait" in err
    assert repr(text) in err


@pytest.mark.parametrize("action", ["upload-reference", "report-production"])
def test_csv_duplicate_header_rejected(capsys, tmp_path, action) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("amount,country,amount\n1.5,de,2.5\n0.5,fr,3.5\n", encoding="utf-8")

    code = main(["drift", action, "churn", "1", str(data), "--governance", "127.0.0.1:9"])
    err = capsys.readouterr().err

    assert code == INVALID_EXIT, err
    assert str(data) in err
    assert "'amount' twice" in err
    assert "columns 1 and 3" in err


@pytest.mark.parametrize("action", ["upload-reference", "report-production"])
def test_csv_header_only_rejected(capsys, tmp_path, action) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("amount,country\n", encoding="utf-8")

    code = main(["drift", action, "churn", "1", str(data), "--governance", "127.0.0.1:9"])
    err = capsys.readouterr().err

    assert code == INVALID_EXIT, err
    assert f"{data} has a header row but no data rows" in err
    assert "model_version" not in err


def test_csv_byte_order_mark_dropped(tmp_path) -> None:
    data = tmp_path / "excel.csv"
    data.write_bytes("\ufeffamount,country\n1.5,de\n".encode())

    columns = read_csv_columns(data)

    assert list(columns) == ["amount", "country"]
    assert columns["amount"].tolist() == [1.5]


def test_csv_blank_header_rejected(tmp_path) -> None:
    data = tmp_path / "blank.csv"
    data.write_text("\namount\n1\n", encoding="utf-8")

    with pytest.raises(ValueError, match="line 1 is blank"):
        read_csv_columns(data)


PT_BR_EXCEL = "idade;renda;país\n30;1234,5;Brasil\n41;99,25;Portugal\n"


@pytest.mark.parametrize("action", ["upload-reference", "report-production"])
@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
def test_csv_not_utf8_rejected(capsys, tmp_path, action, encoding) -> None:
    data = tmp_path / "excel.csv"
    data.write_bytes(PT_BR_EXCEL.encode(encoding))

    code = main(["drift", action, "churn", "1", str(data), "--governance", "127.0.0.1:9"])
    err = capsys.readouterr().err

    assert code == INVALID_EXIT, err
    assert str(data) in err
    assert 'save it as "CSV UTF-8"' in err
    assert "codec" not in err


def test_csv_utf16_named(tmp_path) -> None:
    data = tmp_path / "unicode.txt"
    data.write_bytes("a\tb\n1\t2\n".encode("utf-16"))

    with pytest.raises(ValueError, match="is UTF-16 text, not UTF-8"):
        read_csv_columns(data)


def test_csv_semicolon_decimal_comma_read(tmp_path) -> None:
    data = tmp_path / "excel.csv"
    data.write_text(PT_BR_EXCEL, encoding="utf-8")

    columns = read_csv_columns(data)

    assert list(columns) == ["idade", "renda", "país"]
    assert columns["idade"].tolist() == [30, 41]
    assert columns["renda"].tolist() == [1234.5, 99.25]
    assert columns["país"].tolist() == ["Brasil", "Portugal"]


def test_csv_decimal_point_option(tmp_path) -> None:
    data = tmp_path / "points.csv"
    data.write_text("a;b\n1.5;x\n2.5;y\n", encoding="utf-8")

    assert read_csv_columns(data, decimal="point")["a"].tolist() == [1.5, 2.5]
    # With the decimal comma that semicolons imply, a point separates thousands: not a number.
    assert read_csv_columns(data)["a"].tolist() == ["1.5", "2.5"]


def test_csv_tab_delimiter_detected(tmp_path) -> None:
    data = tmp_path / "tabs.csv"
    data.write_text("a\tb\n1\t2.5\n", encoding="utf-8")

    columns = read_csv_columns(data)

    assert columns["b"].tolist() == [2.5]


def test_csv_wrong_delimiter_names_option(capsys, tmp_path) -> None:
    data = tmp_path / "excel.csv"
    data.write_text(PT_BR_EXCEL, encoding="utf-8")

    code = main([
        "drift", "upload-reference", "churn", "1", str(data), "--delimiter", "comma", "--governance", "127.0.0.1:9",
    ])
    err = capsys.readouterr().err

    assert code == INVALID_EXIT, err
    assert f"{data} line 2 has 2 cells for 1 columns" in err
    assert "comma between cells" in err
    assert "--delimiter comma, semicolon or tab" in err
