"""The inclusion filter on raw HubSpot values."""

from __future__ import annotations

import pytest

from hubforce.config.model import Condition, InclusionFilter
from hubforce.sync.inclusion import condition_holds, is_included

RAW = {"lifecyclestage": "Lead", "email": "a@x.example", "tags": "vip;partner", "blank": ""}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (Condition(property="lifecyclestage", value="lead"), True),  # case-insensitive
        (Condition(property="lifecyclestage", operator="neq", value="lead"), False),
        (Condition(property="email", operator="contains", value="@X.example"), True),
        (Condition(property="email", operator="is_known"), True),
        (Condition(property="blank", operator="is_known"), False),
        (Condition(property="missing", operator="is_unknown"), True),
        (Condition(property="lifecyclestage", operator="in", values=["customer", "lead"]), True),
        (Condition(property="lifecyclestage", operator="not_in", values=["lead"]), False),
        (Condition(property="tags", operator="in", values=["partner"]), True),  # multi-select
        (Condition(property="tags", operator="not_in", values=["other"]), True),
    ],
)
def test_condition(condition: Condition, holds: bool) -> None:
    assert condition_holds(condition, RAW) is holds


def test_all_and_any_combine() -> None:
    known = Condition(property="email", operator="is_known")
    lead = Condition(property="lifecyclestage", value="lead")
    customer = Condition(property="lifecyclestage", value="customer")
    assert is_included(None, RAW) is True
    assert is_included(InclusionFilter(all=[known], any=[customer, lead]), RAW) is True
    assert is_included(InclusionFilter(all=[known], any=[customer]), RAW) is False
    assert is_included(InclusionFilter(all=[known, customer]), RAW) is False


def test_condition_operands_are_checked() -> None:
    with pytest.raises(ValueError, match="needs `values`"):
        Condition(property="x", operator="in")
    with pytest.raises(ValueError, match="needs `value`"):
        Condition(property="x", operator="eq")
