"""Plausible Chinese names for synthetic people, units and places."""

from __future__ import annotations

from .draw import Draw

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏建红飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣佳琳雪梅晨阳东海亮文辉力成志峰昊然"
)
PLACE_WORDS = list("华兴盛鑫隆祥瑞泰丰宏安达信恒通远顺康宁新金银凤凰贺兰朔方塞上黄河西夏")
STREETS = [
    "北京路",
    "解放街",
    "人民路",
    "文化街",
    "建设路",
    "长城路",
    "新华街",
    "正源街",
    "黄河路",
    "湖滨路",
    "民族街",
    "宝湖路",
    "亲水大街",
    "上海路",
    "南京路",
    "友爱街",
]
USE_UNIT_SUFFIXES = {
    "elevator": [
        "物业服务有限公司",
        "物业管理有限公司",
        "房地产开发有限公司",
        "商业管理有限公司",
        "医院",
        "酒店有限公司",
    ],
    "industry": [
        "化工有限公司",
        "机械制造有限公司",
        "能源有限公司",
        "钢铁有限公司",
        "物流有限公司",
        "建材有限公司",
        "食品有限公司",
        "热力有限公司",
    ],
    "leisure": ["游乐园有限公司", "旅游开发有限公司", "文化旅游有限公司"],
    "utility": ["燃气有限公司", "热力有限公司", "石油天然气管道有限公司"],
}


def person_name(rng: Draw) -> str:
    given = "".join(rng.choice(GIVEN, size=int(rng.integers(1, 3))))
    return str(rng.choice(SURNAMES)) + given


def firm_word(rng: Draw) -> str:
    return "".join(rng.choice(PLACE_WORDS, size=2))


def address(rng: Draw, county_name: str) -> str:
    return f"{county_name}{rng.choice(STREETS)}{int(rng.integers(1, 400))}号"


def mobile(rng: Draw) -> str:
    return (
        "1"
        + str(rng.choice(["38", "39", "58", "59", "86", "87", "36", "77"]))
        + f"{int(rng.integers(0, 10**8)):08d}"
    )
