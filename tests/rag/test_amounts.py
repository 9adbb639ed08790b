"""rag.amounts: one amount in any script, computed by hand."""

import pytest

from rag.amounts import amounts, same_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1500亿美元", {150_000_000_000}),
        ("1,500 億元", {150_000_000_000}),
        ("一千五百亿", {150_000_000_000}),
        ("$150 billion", {150_000_000_000}),
        ("1.05万亿元", {1_050_000_000_000}),
        ("6.5 bn and 65亿", {6_500_000_000}),
        ("兩百萬人", {2_000_000}),
        ("500 多名员工", {500}),
        ("7 million users", {7_000_000}),
        ("GPT-4o", set()),  # a model's number is no quantity
        ("第十名", set()),  # nor one Chinese numeral alone, part of a word more often than a count
        ("像电力一样无处不在", set()),
        ("三万人", {30_000}),
        ("OpenAI", set()),
    ],
)
def test_amounts(text: str, expected: set[float]) -> None:
    assert amounts(text) == frozenset(float(value) for value in expected)


def test_same_amount_across_scripts() -> None:
    assert same_amount("1500亿美元", "at a $150 billion valuation")
    assert same_amount("六十五亿", "the 6.5 billion round")
    assert not same_amount("65亿美元", "at a $150 billion valuation")
    assert not same_amount("估值很高", "估值很高")  # no quantity: not the same amount
