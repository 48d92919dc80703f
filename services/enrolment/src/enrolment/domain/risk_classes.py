"""Work-injury risk class of an industry code (人社部发〔2015〕71号 over GB/T 4754-2017).

The notice sorts GB/T 4754-2011 divisions (大类) into eight risk classes, class 1 the least risky
(base rate ~0.2%) and class 8 the most (~1.9%). Registration data carry GB/T 4754-2017 codes: a
section letter A-T then 2 (division), 3 (group) or 4 (class) digits, e.g. "C3110", "I65", "G5910".
Each 2017 division is mapped below by the 71号 name it corresponds to. Division 59 (loading/unloading
and warehousing) was cut in 2017 across two 71号 classes, so it resolves only at group/class level;
given as a bare division it is sent to review with both candidates rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from enrolment.domain.errors import InvalidIndustryCodeError

NOTICE = "人社部发〔2015〕71号"

# GB/T 4754-2017 sections and the divisions each holds.
SECTIONS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "A": (1, 5),
        "B": (6, 12),
        "C": (13, 43),
        "D": (44, 46),
        "E": (47, 50),
        "F": (51, 52),
        "G": (53, 60),
        "H": (61, 62),
        "I": (63, 65),
        "J": (66, 69),
        "K": (70, 70),
        "L": (71, 72),
        "M": (73, 75),
        "N": (76, 79),
        "O": (80, 82),
        "P": (83, 83),
        "Q": (84, 85),
        "R": (86, 90),
        "S": (91, 96),
        "T": (97, 97),
    }
)

# Division (2017) -> (risk class, name as in 71号). Division 59 is in SPLIT_DIVISIONS instead.
DIVISIONS: Mapping[str, tuple[int, str]] = MappingProxyType(
    {
        "01": (4, "agriculture"),
        "02": (5, "forestry"),
        "03": (4, "animal husbandry"),
        "04": (6, "fishery"),
        "05": (4, "agricultural services"),
        "06": (8, "coal mining and washing"),
        "07": (7, "oil and gas extraction"),
        "08": (8, "ferrous metal ore mining"),
        "09": (8, "non-ferrous metal ore mining"),
        "10": (8, "non-metallic ore mining"),
        "11": (5, "mining support activities"),
        "12": (7, "other mining"),
        "13": (3, "agricultural and sideline food processing"),
        "14": (3, "food manufacturing"),
        "15": (3, "liquor, beverages and refined tea"),
        "16": (3, "tobacco"),
        "17": (3, "textiles"),
        "18": (4, "textile garments"),
        "19": (4, "leather, fur, feather and footwear"),
        "20": (3, "wood processing"),
        "21": (5, "furniture"),
        "22": (5, "paper"),
        "23": (4, "printing"),
        "24": (3, "stationery, arts, sports and entertainment goods"),
        "25": (7, "petroleum, coal and other fuel processing"),
        "26": (6, "chemical raw materials and products"),
        "27": (4, "pharmaceuticals"),
        "28": (4, "chemical fibres"),
        "29": (4, "rubber and plastics"),
        "30": (6, "non-metallic mineral products"),
        "31": (6, "ferrous smelting and rolling"),
        "32": (6, "non-ferrous smelting and rolling"),
        "33": (4, "metal products"),
        "34": (4, "general equipment"),
        "35": (4, "special equipment"),
        "36": (4, "automobiles"),
        "37": (4, "rail, ship, aerospace and other transport equipment"),
        "38": (4, "electrical machinery"),
        "39": (3, "computers, communication and other electronics"),
        "40": (3, "instruments"),
        "41": (3, "other manufacturing"),
        "42": (4, "waste resource recycling"),
        "43": (4, "repair of metal products and machinery"),
        "44": (4, "power and heat"),
        "45": (4, "gas"),
        "46": (3, "water production and supply"),
        "47": (6, "house building"),
        "48": (6, "civil engineering"),
        "49": (5, "building installation"),
        "50": (5, "building decoration and other construction"),
        "51": (2, "wholesale"),
        "52": (2, "retail"),
        "53": (4, "rail transport"),
        "54": (5, "road transport"),
        "55": (5, "water transport"),
        "56": (4, "air transport"),
        "57": (4, "pipeline transport"),
        "58": (5, "multimodal transport and transport agency (71号: transport agency)"),
        "60": (2, "postal"),
        "61": (2, "accommodation"),
        "62": (2, "catering"),
        "63": (2, "telecom, broadcast and satellite transmission"),
        "64": (2, "internet and related services"),
        "65": (1, "software and IT services"),
        "66": (1, "monetary finance"),
        "67": (1, "capital markets"),
        "68": (1, "insurance"),
        "69": (1, "other finance"),
        "70": (2, "real estate"),
        "71": (2, "leasing"),
        "72": (2, "business services"),
        "73": (2, "research and experimental development"),
        "74": (2, "professional technical services"),
        "75": (1, "technology promotion and application services"),
        "76": (3, "water conservancy management"),
        "77": (3, "ecological protection and environmental governance"),
        "78": (3, "public facilities management"),
        "79": (3, "land management"),
        "80": (2, "resident services"),
        "81": (3, "repair of motor vehicles, electronics and daily goods"),
        "82": (2, "other services"),
        "83": (2, "education"),
        "84": (2, "health"),
        "85": (1, "social work"),
        "86": (2, "news and publishing"),
        "87": (1, "radio, TV, film and recording production"),
        "88": (2, "culture and arts"),
        "89": (4, "sports"),
        "90": (3, "entertainment"),
        "91": (1, "CPC organs"),
        "92": (1, "state organs"),
        "93": (1, "CPPCC and democratic parties"),
        "94": (1, "social security"),
        "95": (1, "mass and social organisations"),
        "96": (1, "grassroots self-government"),
        "97": (1, "international organisations"),
    }
)

# Divisions mapped by a judgement because 71号 does not name them: division -> why.
JUDGEMENTS: Mapping[str, str] = MappingProxyType(
    {
        "79": "a judgement: land management is new in GB/T 4754-2017 and not named in 71号; "
        "classed with the other section N management divisions (class 3)",
    }
)

# Divisions that span risk classes: division -> (why, {group (3 digits) -> (class, name)}).
SPLIT_DIVISIONS: Mapping[str, tuple[str, Mapping[str, tuple[int, str]]]] = MappingProxyType(
    {
        "59": (
            "loading/unloading vs warehousing",
            MappingProxyType(
                {
                    "591": (5, "loading and unloading"),
                    "592": (2, "general warehousing"),
                    "593": (2, "cold storage"),
                    "594": (2, "dangerous goods warehousing"),
                    "595": (2, "grain, cotton and other farm produce warehousing"),
                    "596": (2, "Chinese medicinal materials warehousing"),
                    "599": (2, "other warehousing"),
                }
            ),
        ),
    }
)

_CODE = re.compile(r"([A-T])([0-9]{2,4})")


@dataclass(frozen=True, slots=True)
class ClassMatch:
    """The risk class of an industry code, or None with the candidates when the code is too coarse."""

    risk_class: int | None
    candidates: tuple[int, ...]
    basis: str


def match_industry(industry_code: str) -> ClassMatch:
    """The 71号 risk class of a GB/T 4754-2017 code; a malformed code raises InvalidIndustryCodeError.

    The section letter must be the one holding the division (e.g. "I" for 63-65). A division that
    spans classes given without its group yields risk_class None and both candidates, for review.
    """
    code = industry_code.strip().upper()
    found = _CODE.fullmatch(code)
    if found is None:
        raise InvalidIndustryCodeError(
            industry_code, "expected a section letter A-T followed by 2, 3 or 4 digits, e.g. C3110"
        )
    letter, digits = found.group(1), found.group(2)
    division = digits[:2]
    low, high = SECTIONS[letter]
    if not low <= int(division) <= high:
        raise InvalidIndustryCodeError(
            industry_code, f"division {division} is not in section {letter}, which holds divisions {low:02d}-{high:02d}"
        )
    if division in SPLIT_DIVISIONS:
        return _split(industry_code, division, digits)
    risk_class, name = DIVISIONS[division]
    basis = f"division {division} ({name}) is class {risk_class} under {NOTICE}"
    if division in JUDGEMENTS:
        basis = f"division {division} ({name}) is class {risk_class}: {JUDGEMENTS[division]}"
    return ClassMatch(risk_class, (risk_class,), basis)


def _split(industry_code: str, division: str, digits: str) -> ClassMatch:
    why, groups = SPLIT_DIVISIONS[division]
    candidates = tuple(sorted({risk_class for risk_class, _ in groups.values()}))
    if len(digits) == 2:
        listed = " and ".join(str(c) for c in candidates)
        return ClassMatch(
            None,
            candidates,
            f"division {division} spans classes {listed} ({why}); a 3- or 4-digit code is needed",
        )
    group = digits[:3]
    if group not in groups:
        raise InvalidIndustryCodeError(industry_code, f"group {group} does not exist in division {division}")
    risk_class, name = groups[group]
    return ClassMatch(
        risk_class, (risk_class,), f"group {group} ({name}) of division {division} is class {risk_class} under {NOTICE}"
    )
