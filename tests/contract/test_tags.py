"""The IAM conditions on steward:* tag values speak the domain's vocabulary, so the role and the code cannot drift
apart: a value the code reads as "on" is one the role allows, and no other."""

from __future__ import annotations

from devtools.iam_check import FUNCTION_MODULES, moto_world, statements

from steward.domain.services import ON_WORDS, SPOT_FALLBACK_TAG

TAG_KEY_PREFIXES = ("aws:ResourceTag/steward:", "aws:RequestTag/steward:")


def tag_conditions() -> list[tuple[str, str, str, object]]:
    """(function, operator, condition key, values) for every condition on a steward:* tag in every role."""
    found = []
    for function in sorted(set(FUNCTION_MODULES.values())):
        for statement in statements(function, moto_world()):
            for operator, keys in (statement.condition or {}).items():
                for key, values in keys.items():
                    if key.startswith(TAG_KEY_PREFIXES):
                        found.append((function, operator, key, values))
    return found


def test_every_condition_on_a_steward_tag_value_accepts_exactly_the_on_words_in_any_case() -> None:
    conditions = tag_conditions()

    assert conditions, "the Spot fallback's UpdateService grant is conditioned on its opt-in tag"
    for function, operator, key, values in conditions:
        assert operator == "StringEqualsIgnoreCase", f"{function} {key}: {operator} is case-sensitive"
        assert sorted(values if isinstance(values, list) else [values]) == sorted(ON_WORDS), f"{function} {key}"


def test_the_spot_fallback_role_is_conditioned_on_its_opt_in_tag() -> None:
    keys = {key for function, _, key, _ in tag_conditions() if function == "SpotFallbackFunction"}

    assert keys == {f"aws:ResourceTag/{SPOT_FALLBACK_TAG}"}
