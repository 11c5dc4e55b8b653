"""Partners, their keys and their usage."""

from typing import Annotated, Literal

from pydantic import Field

from functions.payloads.schema import (
    Schema,
    Strict,
    Timestamp,
    absent,
)

Scope = Literal["price", "read", "write", "admin"]
PartnerNameText = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="lower-case letters, digits, . _ -; 1 to 64, never reused",
    ),
]
KeyIdText = Annotated[str, Field(pattern=r"^[a-z2-7]{12}$", description="a key's id")]
Month = Annotated[str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class PartnerNew(Strict):
    name: PartnerNameText
    contact: str = Field(min_length=1, max_length=320, description="who to write to")
    requests_per_minute: int = Field(60, ge=1, le=1_000_000)
    stones_per_month: int = Field(100_000, ge=1, le=10**12)
    scopes: list[Scope] = Field(
        ["price"], min_length=1, max_length=4, description="the scopes its keys may hold"
    )


class PartnerPath(Strict):
    name: PartnerNameText


class KeyPath(Strict):
    name: PartnerNameText
    key_id: KeyIdText


class KeyRequest(Strict):
    scopes: list[Scope] = absent(
        min_length=1, max_length=4, description="the key's scopes: the plan's, or fewer"
    )
    expires_in_days: int = absent(ge=1, le=3650, description="the key stops after so many days")


class Rotation(Strict):
    grace_hours: float = Field(24.0, ge=0, le=720, description="how long the old key keeps working")


class UsageQuery(Strict):
    month: Month = absent(description="the month, YYYY-MM (UTC); this month by default")
    partner: PartnerNameText = absent(description="one partner's (an admin key may ask any)")


class Partner(Schema):
    name: str
    contact: str
    requests_per_minute: int
    stones_per_month: int
    scopes: list[Scope]
    created_at: Timestamp
    deleted_at: Timestamp | None


class PartnerList(Schema):
    partners: list[Partner]


class Key(Schema):
    """A key, without its secret."""

    id: str = Field(description="the key's id, in the key after `dmd_live_`")
    prefix: str = Field(description="how the key begins: enough to recognise it")
    partner: str
    scopes: list[Scope]
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None = Field(description="when it stopped, or stops (a rotation)")
    last_used_at: Timestamp | None = Field(description="to within a few seconds")
    replaced_by: str | None = Field(description="the key a rotation issued in its place")


class IssuedKey(Key):
    key: str = Field(description="the key itself, `dmd_live_<id>_<secret>`: shown only now")


class PartnerDetail(Partner):
    keys: list[Key]


class KeyList(Schema):
    keys: list[Key]


class UsageCounts(Schema):
    requests: int
    stones: int = Field(description="stones priced")
    refused: int = Field(description="requests answered with a 4xx")
    errors: int = Field(description="requests answered with a 5xx")
    p50_ms: float | None = Field(description="median latency, to the width of a bucket")
    p95_ms: float | None


class UsageDay(UsageCounts):
    partner: str
    day: str
    route: str = Field(description="the method and path: `POST /v1/price`")


class UsageTotal(UsageCounts):
    partner: str
    stones_per_month: int | None = Field(description="the partner's quota")


class UsageReport(Schema):
    month: str
    partners: list[UsageTotal]
    days: list[UsageDay]
