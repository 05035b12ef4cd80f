"""The shape of a province's registry, from DESIGN.md §3: kind mix, varieties, parameters, failure rates."""

from __future__ import annotations

from .draw import Draw

# Share of registered devices by kind (gas cylinders are modelled separately, as nationally).
KIND_SHARE = {
    "3000": 0.49,
    "2000": 0.25,
    "4000": 0.14,
    "5000": 0.09,
    "1000": 0.017,
    "8000": 0.01,
    "6000": 0.0013,
    "9000": 0.00005,
}

VARIETY_SHARE = {
    "1000": {"1100": 0.55, "1200": 0.40, "1310": 0.03, "1320": 0.02},
    "2000": {"2150": 0.44, "2170": 0.36, "2130": 0.15, "2110": 0.002, "2220": 0.03, "2230": 0.01, "2410": 0.008},
    "3000": {"3110": 0.80, "3120": 0.07, "3130": 0.01, "3310": 0.06, "3320": 0.01, "3210": 0.01, "3420": 0.01, "3430": 0.03},
    "4000": {
        "4170": 0.28, "4190": 0.20, "4110": 0.12, "4150": 0.02, "4210": 0.07, "4270": 0.03, "4310": 0.08,
        "4860": 0.08, "4870": 0.02, "4410": 0.04, "4420": 0.01, "4D00": 0.05,
    },
    "5000": {"5110": 0.97, "5200": 0.03},
    "6000": {
        "6100": 0.1, "6200": 0.15, "6300": 0.05, "6400": 0.1, "6500": 0.1, "6600": 0.15, "6700": 0.1,
        "6A00": 0.1, "6B00": 0.05, "6D20": 0.05, "6E40": 0.05,
    },
    "8000": {"8210": 0.6, "8220": 0.2, "8310": 0.2},
    "9000": {"9110": 0.3, "9120": 0.5, "9210": 0.2},
}  # fmt: skip

# Which kind of use unit owns a kind of equipment; it decides where the unit sits.
PROFILE_OF_KIND = {
    "3000": "elevator", "2000": "industry", "4000": "industry", "5000": "industry", "1000": "industry",
    "8000": "utility", "6000": "leisure", "9000": "leisure",
}  # fmt: skip

# Probability that an in-use device of a kind is overdue today (DESIGN.md: 1–3 %, in small boilers,
# forklifts and cranes).
OVERDUE_RATE = {
    "3000": 0.008,
    "2000": 0.02,
    "4000": 0.04,
    "5000": 0.05,
    "1000": 0.06,
    "8000": 0.02,
    "6000": 0.01,
    "9000": 0.0,
}

# Weight of a county for each unit profile: elevators follow city districts.
COUNTY_WEIGHT = {
    "elevator": (8.0, 1.0),
    "industry": (2.0, 1.0),
    "utility": (2.0, 1.0),
    "leisure": (2.0, 1.0),
}

CONCLUSION_P = {"pass": 0.955, "conditional": 0.03, "fail": 0.015}
# Deaths per accident and accident kinds per equipment kind.
ACCIDENT_KINDS = {
    "3000": ["剪切挤压", "坠落", "困人受伤"],
    "4000": ["倾覆", "挤压", "坠落", "折臂"],
    "5000": ["碰撞", "倾翻", "挤压"],
    "2000": ["爆炸", "泄漏"],
    "1000": ["爆炸", "泄漏"],
    "8000": ["泄漏", "爆炸"],
    "6000": ["坠落", "碰撞"],
    "9000": ["停运困人", "坠落"],
}
# Where accidents of each equipment kind happen (场所类型), as national accident reports group them.
PLACE_TYPES = {
    "3000": {"residential": 0.6, "public": 0.35, "other": 0.05},
    "4000": {"construction": 0.45, "factory": 0.4, "logistics": 0.15},
    "5000": {"factory": 0.55, "logistics": 0.4, "other": 0.05},
    "2000": {"factory": 0.85, "public": 0.1, "other": 0.05},
    "1000": {"factory": 0.7, "public": 0.2, "residential": 0.1},
    "8000": {"factory": 0.8, "public": 0.1, "other": 0.1},
    "6000": {"leisure": 1.0},
    "9000": {"leisure": 1.0},
}
# The equipment kinds of the national accident history (cranes, vehicles and elevators lead).
NATIONAL_ACCIDENT_KINDS = {
    "4000": 0.3, "3000": 0.26, "5000": 0.24, "2000": 0.08, "1000": 0.05, "8000": 0.03,
    "6000": 0.03, "9000": 0.01,
}  # fmt: skip
# Accidents a year nationally (DESIGN.md §3: 70-135 a year, about one death each).
NATIONAL_ACCIDENTS_PER_YEAR = (70, 135)
# In-use devices taken out of use for a while and put back (a boiler over summer, a crane
# between sites), beyond the 3 % suspended today.
SUSPENSION_SPELL_RATE = 0.04
# Accidents per registered device per year, nationally (≈ 100 a year over ≈ 21 million devices).
ACCIDENT_RATE = 100 / 21_000_000


def params_for(kind: str, variety: str, rng: Draw, urban: bool) -> dict:
    if kind == "3000":
        if variety in ("3310", "3320"):
            return {"rise_m": round(float(rng.uniform(3, 9)), 1), "speed_mps": 0.5}
        return {
            "floors": int(rng.integers(6, 34) if urban else rng.integers(3, 12)),
            "rated_load_kg": int(rng.choice([630, 800, 1000, 1050, 1350, 1600])),
            "speed_mps": float(rng.choice([1.0, 1.5, 1.75, 2.0, 2.5])),
        }
    if kind == "2000":
        return {
            "safety_grade": int(rng.choice([1, 2, 3, 4], p=[0.3, 0.5, 0.15, 0.05])),
            "volume_m3": round(float(rng.lognormal(0.5, 1.0)), 2),
            "design_pressure_mpa": round(float(rng.choice([0.8, 1.0, 1.6, 2.5, 4.0])), 1),
            "medium": str(rng.choice(["空气", "液化石油气", "氮气", "蒸汽", "液氨", "氧气"])),
        }
    if kind == "4000":
        return {
            "rated_capacity_t": float(rng.choice([1, 2, 3, 5, 10, 16, 20, 32, 50])),
            "molten_metal": bool(
                variety == "4150" or (variety in ("4110", "4190") and rng.random() < 0.03)
            ),
        }
    if kind == "5000":
        return {
            "rated_capacity_t": float(rng.choice([1.5, 2, 3, 3.5, 5])),
            "power": str(rng.choice(["电动", "柴油", "液化石油气"])),
        }
    if kind == "1000":
        return {
            "rated_capacity_t_h": float(rng.choice([1, 2, 4, 6, 10, 20, 35])),
            "pressure_mpa": float(rng.choice([0.7, 1.0, 1.25, 1.6, 2.5])),
            "fuel": str(rng.choice(["天然气", "燃煤", "生物质", "电"])),
        }
    if kind == "8000":
        grade = {"8210": "GB1", "8220": "GB2"}.get(variety) or str(
            rng.choice(["GC1", "GC2", "GC3"], p=[0.1, 0.5, 0.4])
        )
        return {
            "pipeline_grade": grade,
            "diameter_mm": int(rng.choice([100, 159, 219, 325, 426])),
            "medium": "天然气" if variety == "8210" else "蒸汽",
        }
    if kind == "6000":
        return {
            "rated_passengers": int(rng.integers(4, 40)),
            "height_m": round(float(rng.uniform(2, 40)), 1),
        }
    return {"length_m": int(rng.integers(300, 3000)), "capacity_pph": int(rng.integers(200, 1500))}
