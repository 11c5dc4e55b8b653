import numpy as np
import pytest

from training.record import FEATURES
from training.validation import UnusableFile, read_records

HEADER = "carat,cut,color,clarity,depth,table,price,x,y,z"
GOOD = "1.0,Ideal,E,VS1,61.5,57,7000,6.4,6.43,3.95"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows]).encode() + b"\n"


def reasons(data: bytes, **kwargs) -> list[str]:
    result = read_records(data, **kwargs)
    assert len(result.accepted) + len(result.rejected) == result.rows_read
    return list(result.rejected["reason"])


def test_customer_file_quarantines_exactly_its_faults(customer_csv: bytes) -> None:
    result = read_records(customer_csv)
    assert result.rows_read == 5000
    assert len(result.accepted) == 4984
    rejected = dict(zip(result.rejected["line"], result.rejected["reason"], strict=True))
    negative_prices = [line for line, r in rejected.items() if r.startswith("price: must be")]
    assert len(negative_prices) == 10
    assert "x: must be greater than 0" in rejected[4323]
    assert rejected[4945] == "row: exact duplicate of line 2431"
    assert "describe a stone of about 0.45 ct, not 1.41 ct" in rejected[1778]  # z = carat
    assert "stated depth 44% disagrees with 65.7%" in rejected[1891]
    assert "about 0.69 ct, not 0.35 ct" in rejected[3067]  # dimensions of a stone twice as heavy
    assert "stated depth 65.6% disagrees with 78.3%" in rejected[1115]
    assert len(rejected) == 16


def test_public_typing_slips_are_caught(public_csv: bytes) -> None:
    result = read_records(public_csv)
    slips = result.rejected[
        result.rejected["y"].isin(["58.9", "31.8"]) | (result.rejected["z"] == "31.8")
    ]
    assert len(slips) == 3
    assert result.report()["rejected"] == len(result.rejected) < 250


def test_header_names_are_normalised_and_extra_columns_ignored() -> None:
    result = read_records(
        csv(GOOD + ",x1", header=" Carat ,CUT,Color,clarity,Depth,TABLE,Price,X,Y,Z,Stock Number")
    )
    assert len(result.accepted) == 1
    assert result.ignored_columns == ["stock_number"]


def test_categories_are_matched_ignoring_case_and_spaces() -> None:
    result = read_records(csv("1.0, very  good ,e,vs1,61.5,57,7000,6.4,6.43,3.95"))
    assert result.accepted["cut"][0] == "Very Good"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (",Ideal,E,VS1,61.5,57,7000,6.4,6.43,3.95", "carat: missing value"),
        ("one,Ideal,E,VS1,61.5,57,7000,6.4,6.43,3.95", "carat: not a number: 'one'"),
        ("nan,Ideal,E,VS1,61.5,57,7000,6.4,6.43,3.95", "carat: not a finite number"),
        ("1.0,Ideal,E,VS1,61.5,57,inf,6.4,6.43,3.95", "price: not a finite number"),
        ("1.0,Ideal,E,VS1,61.5,57,-1,6.4,6.43,3.95", "price: must be greater than 0"),
        ("1.0,Ideal,E,VS1,61.5,57,0,6.4,6.43,3.95", "price: must be greater than 0"),
        ("1e300,Ideal,E,VS1,61.5,57,7000,6.4,6.43,3.95", "beyond the plausible maximum"),
        ("1.0,Ideal,E,VS1,61.5,57,5e-324,6.4,6.43,3.95", "price: 4.94066e-324 USD for 1 ct is"),
        ("1.0,Ideal,E,VS1,61.5,57,70,6.4,6.43,3.95", "is 70 USD per carat; an appraisal is at"),
        ("1.0,Ideal,E,VS1,61.5,57,7000000,6.4,6.43,3.95", "an appraisal is at most 200,000"),
        ("1.0,Superb,E,VS1,61.5,57,7000,6.4,6.43,3.95", "cut: unknown cut 'Superb'"),
        ("1.0,Ideal,Z,VS1,61.5,57,7000,6.4,6.43,3.95", "color: unknown color 'Z'"),
        ("1.0,Ideal,E,VS1,61.5,57,7000,6.4,6.43", "row: has 9 fields where the header has 10"),
        ("1.0,Ideal,E,VS1,61.5,57,7000,6.4,6.43,3.95,extra", "row: has 11 fields"),
        ("2.0,Premium,H,SI2,58.9,57,12210,8.09,58.9,8.06", "carat: dimensions"),
        ("0.51,Very Good,E,VS1,61.8,54.7,1970,5.12,5.15,31.8", "depth: stated depth 61.8%"),
    ],
)
def test_bad_rows_are_rejected_with_their_reason(row: str, expected: str) -> None:
    found = reasons(csv(GOOD, row))
    assert len(found) == 1
    assert expected in found[0]


def test_the_price_rule_holds_at_its_bounds() -> None:
    per_carat = (100, 200_000)
    rows = [f"0.5,Ideal,E,VS1,61.5,57,{p * 0.5},5.1,5.13,3.15" for p in per_carat]
    assert reasons(csv(*rows)) == []
    [low, high] = reasons(
        csv(*(f"0.5,Ideal,E,VS1,61.5,57,{p},5.1,5.13,3.15" for p in (49, 1e5 + 1)))
    )
    assert low.startswith("price: 49 USD for 0.5 ct is 98 USD per carat")
    assert high.startswith("price: 100001 USD for 0.5 ct is 200,002 USD per carat")


def test_every_problem_of_a_row_is_named() -> None:
    [reason] = reasons(csv(GOOD, "-1,Nope,E,VS1,abc,57,7000,6.4,6.43,3.95"))
    assert "carat:" in reason and "cut:" in reason and "depth:" in reason


def test_duplicates_are_kept_once() -> None:
    assert reasons(csv(GOOD, GOOD, GOOD)) == [
        "row: exact duplicate of line 2",
        "row: exact duplicate of line 2",
    ]
    assert reasons(csv(GOOD, GOOD), reject_duplicates=False) == []


def test_pricing_files_need_no_price_column() -> None:
    header = ",".join(FEATURES)
    result = read_records(
        csv("1.0,Ideal,E,VS1,61.5,57,6.4,6.43,3.95", header=header), columns=FEATURES
    )
    assert len(result.accepted) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (HEADER.encode() + b"\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (bytes(range(256)) * 10, "binary"),
        ("carat,cut\n1,Ideal\n".encode("utf-16"), "binary"),
        (b"carat;cut;color\n1;Ideal;E\n", "not seem to be comma-separated"),
        (b"carat,cut,color\n1,Ideal,E\n", "required columns missing: clarity, depth"),
        (csv(GOOD).replace(b"Ideal", b"Id\xe9al"), "not UTF-8"),
        (b'carat,cut\n"1,Ideal\n', "required columns missing"),
        (csv(GOOD, header=HEADER + ",carat"), "more than once: carat"),
    ],
)
def test_unusable_files_stop_with_one_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(UnusableFile, match=message):
        read_records(data)


def test_a_100000_row_file_is_read_whole() -> None:
    rng = np.random.default_rng(0)
    carat = rng.uniform(0.3, 2.0, 100_000).round(2)
    side = np.cbrt(carat / 0.0061 / 0.62)
    rows = [
        f"{c},Ideal,G,VS2,62.0,57,{4000 * c**1.8 + i / 100:.2f},{s:.2f},{s:.2f},{0.62 * s:.2f}"
        for i, (c, s) in enumerate(zip(carat, side, strict=True))
    ]
    result = read_records(csv(*rows))
    assert result.rows_read == 100_000
    assert len(result.accepted) + len(result.rejected) == 100_000
    assert len(result.accepted) > 99_000


def test_the_geometry_rule_holds_for_any_positive_numbers() -> None:
    """Dimensions so small that their product rounds to zero still get a true verdict: the
    rule compares logarithms."""
    from training.geometry import implausibilities

    tiny = 5e-324  # the smallest positive float
    [problems] = implausibilities([tiny], [tiny], [tiny], [tiny], [tiny])
    assert [field for field, _ in problems] == ["carat", "depth"]
    assert "describe a stone of about 7.4e-973 ct" in problems[0][1]
    side = (1e-300 / 0.0061) ** (1 / 3)  # a cube weighing 1e-300 ct: consistent, if absurd
    assert implausibilities([1e-300], [100.0], [side], [side], [side]) == [[]]
    [problems] = implausibilities([1.0], [61.5], [0.1], [0.1], [0.06])
    assert "describe a stone of about 3.7e-6 ct, not 1 ct" in problems[0][1]


def test_a_file_cut_off_mid_line_yields_no_stone_from_that_line() -> None:
    """A copy paused inside the last number (2.599 read as 2.5) must not store that stone."""
    whole = csv(GOOD, "1.01,Ideal,E,VS1,61.5,57,7100,6.4,6.43,3.96")
    cut = whole[: whole.rindex(b"3.96") + 3]
    result = read_records(cut)
    assert len(result.accepted) == 1
    [reason] = result.rejected["reason"]
    assert reason.startswith("row: the file ends inside this line (no line end after it)")
    assert len(read_records(whole).accepted) == 2
    assert len(read_records(whole + b"\n\n").accepted) == 2
    header = ",".join(FEATURES)
    to_price = read_records(
        b"%s\n1.0,Ideal,E,VS1,61.5,57,6.4,6.43,3.95" % header.encode(), columns=FEATURES
    )
    assert len(to_price.accepted) == 1, "a file of stones to price is priced as it is"
