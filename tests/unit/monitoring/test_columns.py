"""Column conversion: missing values, infinities and category keys."""

from __future__ import annotations

import numpy as np
import pytest
from modelward_governance.monitoring import ColumnTypeError, NonFiniteValueError
from modelward_governance.monitoring.columns import (
    category_key,
    count_categories,
    to_categorical,
    to_numeric,
)


def test_numeric_list_none_counted_as_null() -> None:
    converted = to_numeric("age", [1.0, None, float("nan"), 4])
    assert converted.n_null == 1
    assert np.isnan(converted.values).sum() == 2
    assert converted.values[3] == 4.0


def test_numeric_masked_array_is_null() -> None:
    data = np.ma.masked_array([1.0, 0.0, np.nan], mask=[False, True, False])
    converted = to_numeric("age", data)
    assert converted.n_null == 1
    assert np.isnan(converted.values[1])
    assert np.isnan(converted.values[2])


def test_numeric_infinity_names_column() -> None:
    with pytest.raises(NonFiniteValueError) as caught:
        to_numeric("income", np.array([1.0, 2.0, -np.inf]))
    assert caught.value.column == "income"
    assert caught.value.row == 2
    assert isinstance(caught.value, ValueError)
    assert "'income'" in str(caught.value)


def test_numeric_string_rejected() -> None:
    with pytest.raises(ColumnTypeError) as caught:
        to_numeric("age", [1, "two"])
    assert caught.value.column == "age"


def test_numeric_string_dtype_rejected() -> None:
    with pytest.raises(ColumnTypeError):
        to_numeric("age", np.array(["1", "2"]))


def test_numeric_2d_rejected() -> None:
    with pytest.raises(ColumnTypeError):
        to_numeric("age", np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (1, "1"),
        (1.0, "1"),
        (np.int64(1), "1"),
        (True, "1"),
        (False, "0"),
        (2.5, "2.5"),
        ("a", "a"),
        (None, None),
    ],
)
def test_category_key_values(value: object, key: str | None) -> None:
    assert category_key("c", value) == key


def test_category_key_nan_missing() -> None:
    assert category_key("c", float("nan")) is None


def test_category_key_infinity_rejected() -> None:
    with pytest.raises(NonFiniteValueError):
        category_key("c", float("inf"))


def test_count_categories_object_list() -> None:
    counted = count_categories(
        "c", to_categorical("c", ["a", None, "b", "a", float("nan"), 1, 1.0])
    )
    assert counted.counts == {"a": 2, "b": 1, "1": 2}
    assert counted.n_null == 1
    assert counted.n_nan == 1


def test_count_categories_float_array() -> None:
    counted = count_categories("c", to_categorical("c", np.array([0.0, 1.0, np.nan, 1.0])))
    assert counted.counts == {"0": 1, "1": 2}
    assert counted.n_nan == 1


def test_categorical_infinity_in_list_rejected() -> None:
    with pytest.raises(NonFiniteValueError) as caught:
        count_categories("c", to_categorical("c", ["a", float("inf")]))
    assert caught.value.column == "c"
    assert caught.value.row == 1
