"""A realistic county numbering plan (平安县) shared by the dial-plan tests.

Units: the county (平安县) with 县委办公室 and 县政府办公室, two townships (城关镇,
马头镇) and two departments under the county government (县公安局, 县教育局). The
county government's priority site 应急指挥中心 may make video calls.

Blocks      8000-8099 县委办公室   8100-8199 县政府办公室   8200-8239 城关镇
            8240-8279 马头镇       8300-8349 县公安局       8350-8399 县教育局
Short codes 61001 张三 (desk 8001), 61002 李四, 62001 王五 via trunk cm-county
Rules       see RULES below: emergency, reject, short numbers (also as 9 + code),
            legacy 7-prefix,
            conference rooms, international, national mobile/landline, local,
            IP long distance through the disabled backup trunk
"""

from __future__ import annotations

import hashlib

import pytest

from dialplan.engine import NumberingPlan, compile_plan
from dialplan.model import (
    ClassOfServiceRow,
    DestinationKind,
    DialRuleRow,
    ExtensionRow,
    NumberBlockRow,
    PlanRows,
    ShortNumberRow,
    SiteRow,
    TrunkRow,
    UnitKind,
    UnitRow,
)

REALM = "pingan.gov.example"
D = DestinationKind

UNITS = (
    UnitRow(1, None, "平安县", "county", UnitKind.COUNTY),
    UnitRow(2, 1, "县委办公室", "xwb", UnitKind.COUNTY),
    UnitRow(3, 1, "县政府办公室", "zfb", UnitKind.COUNTY),
    UnitRow(4, 1, "城关镇", "cgz", UnitKind.TOWNSHIP),
    UnitRow(5, 1, "马头镇", "mtz", UnitKind.TOWNSHIP),
    UnitRow(6, 3, "县公安局", "gaj", UnitKind.DEPARTMENT),
    UnitRow(7, 3, "县教育局", "jyj", UnitKind.DEPARTMENT),
)
SITES = (
    SiteRow(1, 2, "县委大院", priority=False, bandwidth_class="lan"),
    SiteRow(2, 3, "应急指挥中心", priority=True, bandwidth_class="lan"),
    SiteRow(3, 4, "城关镇政府", priority=False, bandwidth_class="wan-2m"),
    SiteRow(4, 5, "马头镇政府", priority=False, bandwidth_class="wan-2m"),
)
BLOCKS = (
    NumberBlockRow(1, 2, "8000", "8099"),
    NumberBlockRow(2, 3, "8100", "8199"),
    NumberBlockRow(3, 4, "8200", "8239"),
    NumberBlockRow(4, 5, "8240", "8279"),
    NumberBlockRow(5, 6, "8300", "8349"),
    NumberBlockRow(6, 7, "8350", "8399"),
)
ALL_KINDS = frozenset(D) - {D.REJECT}
CLASSES = (
    ClassOfServiceRow(1, "全功能", ALL_KINDS),
    ClassOfServiceRow(
        2,
        "国内长途",
        frozenset(
            {
                D.EXTENSION,
                D.SHORT_NUMBER,
                D.EMERGENCY,
                D.EXTERNAL_LOCAL,
                D.EXTERNAL_NATIONAL,
                D.CONFERENCE,
            }
        ),
    ),
    ClassOfServiceRow(3, "本地", frozenset({D.EXTENSION, D.SHORT_NUMBER, D.EXTERNAL_LOCAL})),
    ClassOfServiceRow(4, "内线", frozenset({D.EXTENSION})),
)


def ha1(number: str, algorithm: str) -> str:
    """HA1 for the test password ``pw<number>``, RFC 7616 §3.4.2."""
    return hashlib.new(algorithm, f"{number}:{REALM}:pw{number}".encode()).hexdigest()


def extension(
    id_: int,
    number: str,
    name: str,
    unit: int,
    service: int,
    site: int | None = None,
    *,
    enabled: bool = True,
    forward_unconditional: str | None = None,
    forward_busy: str | None = None,
    forward_no_answer: str | None = None,
    no_answer_seconds: int = 20,
) -> ExtensionRow:
    """An extension row with real HA1 values."""
    return ExtensionRow(
        id=id_,
        number=number,
        display_name=name,
        unit_id=unit,
        site_id=site,
        class_of_service_id=service,
        enabled=enabled,
        ha1_md5=ha1(number, "md5"),
        ha1_sha256=ha1(number, "sha256"),
        forward_unconditional=forward_unconditional,
        forward_busy=forward_busy,
        forward_no_answer=forward_no_answer,
        no_answer_seconds=no_answer_seconds,
    )


EXTENSIONS = (
    extension(1, "8001", "张三", 2, 1, site=1),
    extension(
        2,
        "8002",
        "李秘书",
        2,
        2,
        site=1,
        forward_busy="8003",
        forward_no_answer="8003",
        no_answer_seconds=15,
    ),
    extension(3, "8003", "值班室", 2, 3, site=1),
    extension(4, "8101", "王县长", 3, 1, site=2),
    extension(5, "8102", "应急值班", 3, 2, site=2),
    extension(6, "8103", "赵主任", 3, 2, forward_unconditional="8101"),
    extension(7, "8104", "钱科员", 3, 3, forward_unconditional="013912345678"),
    extension(8, "8105", "孙科员", 3, 2, forward_unconditional="013912345678"),
    extension(9, "8110", "周一", 3, 2, forward_unconditional="8111"),
    extension(10, "8111", "吴二", 3, 2, forward_unconditional="8110"),
    *(
        extension(11 + hop, f"812{hop}", f"链{hop}", 3, 2, forward_unconditional=f"812{hop + 1}")
        for hop in range(6)
    ),
    extension(17, "8126", "链尾", 3, 2),
    extension(18, "8201", "城关镇党政办", 4, 2, site=3),
    extension(19, "8202", "城关镇旧分机", 4, 2, site=3, enabled=False),
    extension(20, "8241", "马头镇党政办", 5, 3, site=4),
    extension(21, "8301", "指挥室", 6, 1),
    extension(22, "8351", "教育局办公室", 7, 3),
    extension(23, "8399", "大厅电话", 7, 4),
    extension(24, "8203", "城关镇停用转移", 4, 2, enabled=False, forward_unconditional="8201"),
)
SHORT_NUMBERS = (
    ShortNumberRow(1, "61001", "+8613800000001", "张三", 2, desk_extension="8001"),
    ShortNumberRow(2, "61002", "+8613800000002", "李四", 6),
    ShortNumberRow(3, "62001", "+8613900000003", "王五", 4),
)
TRUNKS = (
    TrunkRow(1, "cm-county", host="10.10.0.1"),
    TrunkRow(2, "ct-backup", enabled=False, host="10.20.0.1"),
)
RULES = (
    DialRuleRow(1, 10, "1[12][029]", 3, 3, D.EMERGENCY, trunk_id=1, description="紧急呼叫"),
    DialRuleRow(2, 15, "90.", 3, 16, D.REJECT, description="禁止拨打 90 开头的声讯号码"),
    DialRuleRow(3, 20, "6XXXX", 5, 5, D.SHORT_NUMBER, trunk_id=1, description="集团短号"),
    DialRuleRow(
        12, 25, "96XXXX", 6, 6, D.SHORT_NUMBER, trunk_id=1, strip=1, description="9 + 集团短号"
    ),
    DialRuleRow(4, 30, "78XXX", 5, 5, D.EXTENSION, strip=1, description="旧号码 7 开头"),
    DialRuleRow(5, 40, "79XX", 4, 4, D.CONFERENCE, description="会议室"),
    DialRuleRow(6, 50, "00.", 5, 20, D.EXTERNAL_INTERNATIONAL, trunk_id=1, description="国际"),
    DialRuleRow(
        7,
        60,
        "01[3-9]XXXXXXXXX",
        12,
        12,
        D.EXTERNAL_NATIONAL,
        trunk_id=1,
        strip=1,
        description="外地手机",
    ),
    DialRuleRow(8, 70, "0[1-9]X.", 10, 13, D.EXTERNAL_NATIONAL, trunk_id=1, description="长途"),
    DialRuleRow(
        9, 80, "9NXXXXXXX", 9, 9, D.EXTERNAL_LOCAL, trunk_id=1, strip=1, description="市话"
    ),
    DialRuleRow(
        10,
        90,
        "1[3-9]XXXXXXXXX",
        11,
        11,
        D.EXTERNAL_NATIONAL,
        trunk_id=1,
        prepend="0",
        description="手机",
    ),
    DialRuleRow(
        11,
        100,
        "17951X.",
        16,
        18,
        D.EXTERNAL_NATIONAL,
        trunk_id=2,
        strip=5,
        description="IP 长途 (备用运营商)",
    ),
)


def county_rows() -> PlanRows:
    """The county plan's rows."""
    return PlanRows(
        realm=REALM,
        units=UNITS,
        sites=SITES,
        blocks=BLOCKS,
        classes_of_service=CLASSES,
        extensions=EXTENSIONS,
        short_numbers=SHORT_NUMBERS,
        trunks=TRUNKS,
        rules=RULES,
        version=7,
    )


@pytest.fixture(scope="session")
def rows() -> PlanRows:
    """The county plan's rows."""
    return county_rows()


@pytest.fixture(scope="session")
def plan(rows: PlanRows) -> NumberingPlan:
    """The compiled county plan."""
    return compile_plan(rows)
