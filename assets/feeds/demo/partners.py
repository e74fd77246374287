"""More demo partners than the three configured ones, each made from one of them as an archetype.

Partner ``k`` (from 0, in partner id order) past the configured ones takes the config of the ``k mod n``-th
configured partner: its file formats, languages and EDI flavour, delivery habits and imperfections. It gets a
name and id of its own in the archetype's country, stores in that country's cities, GS1 prefixes and EDI ids, a
seed offset and a somewhat other store size and forecast bias, all drawn from ``seed``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import yaml

from assets.feeds.partner_config import PartnerConfig, parse_partner_config

# Per country of an archetype: name stems, kinds of business, the legal suffix, cities and store name words.
NAMING = {
    "DE": {
        "stems": ("Nordland", "Elbtal", "Weserland", "Alster", "Ostsee", "Heide", "Harz", "Rheintal", "Moselland"),
        "kinds": ("Markt", "Handel", "Frischemarkt", "Kaufhaus"),
        "suffix": " GmbH",
        "cities": ("Hamburg", "Bremen", "Lübeck", "Rostock", "Oldenburg", "Osnabrück", "Braunschweig", "Münster"),
        "stores": ("Innenstadt", "Hafen", "Nord", "Süd", "Bahnhof", "Altstadt"),
    },
    "CN": {
        "stems": ("Jinhua", "Donghai", "Xinyue", "Huamei", "Lianhua", "Tianhong", "Yongxin", "Baisheng", "Fuyuan"),
        "kinds": ("Retail", "Mart", "Convenience", "Supermarket"),
        "suffix": "",
        "cities": ("Shanghai", "Hangzhou", "Nanjing", "Suzhou", "Ningbo", "Wuxi", "Hefei", "Changzhou"),
        "stores": ("人民路店", "中山店", "东方店", "滨江店", "新区店", "火车站店"),
        # Store names are written in Chinese, the city first: 上海东方店.
        "local": {
            "Shanghai": "上海",
            "Hangzhou": "杭州",
            "Nanjing": "南京",
            "Suzhou": "苏州",
            "Ningbo": "宁波",
            "Wuxi": "无锡",
            "Hefei": "合肥",
            "Changzhou": "常州",
        },
    },
    "US": {
        "stems": ("Bluebird", "Cedar Valley", "Harbor", "Prairie", "Lakeshore", "Maple Ridge", "Summit", "Riverbend"),
        "kinds": ("Grocers", "Markets", "Foods", "Fresh Market"),
        "suffix": "",
        "cities": ("Chicago", "Milwaukee", "Madison", "Rockford", "Peoria", "Green Bay", "Naperville", "Kenosha"),
        "stores": ("Central", "Main Street", "Riverside", "Westgate", "Northfield", "Eastside"),
    },
}
STORES_PER_PARTNER = 4


def partner_documents(archetypes: dict[str, PartnerConfig], count: int, seed: int) -> dict[str, str]:
    """YAML text of each of ``count`` partners, keyed by partner id: the configured ones first, as their files
    have them, then partners made from them in turn (see the module)."""
    ordered = [archetypes[partner_id] for partner_id in sorted(archetypes)]
    texts = {config.partner_id: Path(config.source_path).read_text(encoding="utf-8") for config in ordered[:count]}
    taken_names = {config.name for config in ordered}
    taken_prefixes = {str(config.demo.get("gln_prefix", "")) for config in ordered}
    rng = np.random.default_rng([seed, 3])
    for index in range(len(ordered), count):
        archetype = ordered[index % len(ordered)]
        document = yaml.safe_load(Path(archetype.source_path).read_text(encoding="utf-8"))
        naming = NAMING.get(archetype.country, NAMING["US"])
        name = _new_name(naming, rng, taken_names)
        partner_id = re.sub(r"[^a-z0-9]+", "_", name.lower().removesuffix(naming["suffix"].lower())).strip("_")
        demo = document["demo"]
        prefix = _new_gln_prefix(str(demo.get("gln_prefix", "000000000")), rng, taken_prefixes)
        stem = name.split()[0]
        demo |= {
            "seed_offset": 1000 + index,
            "gln_prefix": prefix,
            "size_factor": round(float(demo.get("size_factor", 1.0)) * float(rng.uniform(0.7, 1.3)), 2),
            "forecast_bias": round(float(demo.get("forecast_bias", 0.0)) + float(rng.uniform(-0.05, 0.05)), 2),
            "stores": _stores(archetype, naming, rng),
        }
        for key, value in (
            ("edi_sender", re.sub(r"[^A-Z0-9]", "", name.upper())[:15]),
            ("edi_name", name),
            ("sku_prefix", stem[:2].upper() + "-"),
        ):
            if key in demo:
                demo[key] = value
        document |= {"partner_id": partner_id, "name": name, "demo": demo}
        heading = f"# {name}: a demo partner made from the config of {archetype.partner_id} (its formats and habits).\n"
        texts[partner_id] = heading + yaml.dump(
            document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None
        )
    return texts


class _Dumper(yaml.SafeDumper):
    """Control characters (a line ending, a tab delimiter) in double quotes with escapes, as the configs write them."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if any(char in text for char in "\r\n\t") else "'" if text.isdigit() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def parse_documents(texts: dict[str, str], folder: Path) -> dict[str, PartnerConfig]:
    """The partner configs of ``partner_documents``, as if read from ``folder``."""
    return {
        partner_id: parse_partner_config(yaml.safe_load(text), folder / f"{partner_id}.yaml")
        for partner_id, text in texts.items()
    }


def _new_name(naming: dict, rng: np.random.Generator, taken: set[str]) -> str:
    """A trading name not yet taken: a stem and a kind of business, numbered once every pair is used."""
    pairs = [(stem, kind) for stem in naming["stems"] for kind in naming["kinds"]]
    for round_number in range(1, 1000):
        free = [pair for pair in pairs if _name(pair, naming, round_number) not in taken]
        if free:
            name = _name(free[int(rng.integers(0, len(free)))], naming, round_number)
            taken.add(name)
            return name
    raise ValueError("no demo partner name left")


def _name(pair: tuple[str, str], naming: dict, round_number: int) -> str:
    stem, kind = pair
    number = f" {round_number}" if round_number > 1 else ""
    return f"{stem} {kind}{number}{naming['suffix']}"


def _new_gln_prefix(archetype_prefix: str, rng: np.random.Generator, taken: set[str]) -> str:
    """A 9-digit GS1 company prefix in the archetype's country range (its first two digits), not yet taken."""
    while True:
        prefix = archetype_prefix[:2] + "".join(str(digit) for digit in rng.integers(0, 10, 7))
        if prefix not in taken:
            taken.add(prefix)
            return prefix


def _stores(archetype: PartnerConfig, naming: dict, rng: np.random.Generator) -> list[dict]:
    """Stores in the country's cities, their ids shaped as the archetype's (letters then digits)."""
    first = str((archetype.demo.get("stores") or [{"id": "1000"}])[0]["id"])
    letters, digits = re.match(r"([^0-9]*)([0-9]*)", first).groups()
    width = max(len(digits), 3)
    cities = rng.choice(len(naming["cities"]), STORES_PER_PARTNER, replace=False)
    # Below 4000: the extra stores of ``world.stores_for`` are numbered from 5001, unknown ones in the 4000s.
    numbers = np.sort(rng.choice(min(10**width, 4000) - 1, STORES_PER_PARTNER, replace=False) + 1)
    stores = []
    for city_index, number in zip(cities, numbers, strict=True):
        city = naming["cities"][int(city_index)]
        word = naming["stores"][int(rng.integers(0, len(naming["stores"])))]
        store_id = (city[:2].upper() if letters and letters.isupper() and len(letters) == 2 else letters) + str(
            int(number)
        ).zfill(width)
        local = naming.get("local")
        stores.append({"id": store_id, "name": f"{local[city]}{word}" if local else f"{city} {word}", "city": city})
    return stores
