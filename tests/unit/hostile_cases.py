"""Generator of hostile and careless deliveries: each case writes itself into a landing and says what it expects.

A case is a function ``(env) -> Expectation`` that adds one bad delivery (or breaks one partner's config) in a
small demo landing; the expectation names the ledger path the delivery must be recorded under, a reason fragment,
and which partners the case may touch. ``env`` holds the landing, the partner config folder and a folder outside
the data folder with a secret that no case may ever get into the warehouse, the quarantine or the archive.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECRET = "TOP-SECRET-7f3a9c-never-in-the-warehouse"


@dataclass(frozen=True)
class HostileEnv:
    landing: Path
    partner_configs: Path
    outside: Path  # beside the data folder: nothing may be read from or written to it

    @property
    def secret_file(self) -> Path:
        return self.outside / "passwd"


@dataclass(frozen=True)
class Expectation:
    path: str  # the ledger path the delivery is recorded under
    reason: str  # a fragment of the recorded reason
    touches: tuple[str, ...]  # partners whose loaded rows may change
    status: str = "quarantined"


def _xlsx(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def non_utf8_name(env: HostileEnv) -> Expectation:
    folder = os.fsencode(env.landing / "redwood_grocers")
    with open(os.path.join(folder, b"sales_\xff\xfe.csv"), "wb") as file:
        file.write(b"store_nbr,upc,business_date,units_sold\n1042,084215010016,2025-06-29,7\n")
    return Expectation("redwood_grocers/sales_\\xff\\xfe.csv", "file name is not valid UTF-8", ())


def folder_without_yaml(env: HostileEnv) -> Expectation:
    _write(env.landing / "new_partner" / "stock.csv", b"a,b\n1,2\n")
    return Expectation("new_partner/stock.csv", "no partner config for folder 'new_partner'", ())


def invalid_yaml_with_python_tag(env: HostileEnv) -> Expectation:
    marker = env.outside / "pwned"
    (env.partner_configs / "hansa_handel.yaml").write_text(
        f'partner_id: hansa_handel\nname: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    return Expectation("hansa_handel/Bestand_20250629.csv", "partner config is invalid", ("hansa_handel",))


def xlsx_bomb(env: HostileEnv) -> Expectation:
    row = b"<row><c t='inlineStr'><is><t>" + b"A" * 200 + b"</t></is></c></row>"
    sheet = b"<worksheet><sheetData>" + row * 40_000 + b"</sheetData></worksheet>"  # ~9 MB from ~30 KB
    _write(env.landing / "huaxin_retail" / "kucun_20250630.xlsx", _xlsx({"xl/worksheets/sheet1.xml": sheet}))
    return Expectation("huaxin_retail/kucun_20250630.xlsx", "xlsx_max_ratio", ())


def billion_laughs_xlsx(env: HostileEnv) -> Expectation:
    entities = '<!ENTITY a "ha">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    )
    workbook = f'<?xml version="1.0"?><!DOCTYPE w [{entities}]><workbook>&i;</workbook>'.encode()
    _write(env.landing / "huaxin_retail" / "kucun_20250701.xlsx", _xlsx({"xl/workbook.xml": workbook}))
    return Expectation("huaxin_retail/kucun_20250701.xlsx", "xml_doctype", ())


def xxe_xlsx(env: HostileEnv) -> Expectation:
    workbook = (
        f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file://{env.secret_file}">]><workbook>&x;</workbook>'
    ).encode()
    _write(env.landing / "huaxin_retail" / "kucun_20250702.xlsx", _xlsx({"xl/workbook.xml": workbook}))
    return Expectation("huaxin_retail/kucun_20250702.xlsx", "xml_doctype", ())


def huge_one_line_csv(env: HostileEnv) -> Expectation:
    _write(env.landing / "redwood_grocers" / "sales_20250630.csv", b"store_nbr," + b"9" * (2 << 20))
    return Expectation("redwood_grocers/sales_20250630.csv", "max_line_kib", ())


def deep_json(env: HostileEnv) -> Expectation:
    depth = 100_000
    _write(env.landing / "huaxin_retail" / "xiaoshou_20250630.json", b"[" * depth + b"]" * depth)
    return Expectation("huaxin_retail/xiaoshou_20250630.json", "json_max_depth", ())


def symlink_out_of_the_landing(env: HostileEnv) -> Expectation:
    (env.landing / "redwood_grocers" / "sales_20250701.csv").symlink_to(env.secret_file)
    return Expectation("redwood_grocers/sales_20250701.csv", "symbolic link refused", ())


def symlinked_folder_out_of_the_landing(env: HostileEnv) -> Expectation:
    (env.landing / "redwood_grocers" / "exports").symlink_to(env.outside, target_is_directory=True)
    return Expectation("redwood_grocers/exports", "symbolic link refused", ())


def alias_folder_linked_to_a_partner(env: HostileEnv) -> Expectation:
    (env.landing / "redwood_alias").symlink_to(env.landing / "redwood_grocers", target_is_directory=True)
    return Expectation("redwood_alias", "symbolic link refused", ())


def truncated_zip(env: HostileEnv) -> Expectation:
    workbook = _xlsx({"xl/workbook.xml": b"<workbook/>" * 2000, "xl/worksheets/sheet1.xml": b"<worksheet/>" * 2000})
    _write(env.landing / "huaxin_retail" / "kucun_20250703.xlsx", workbook[: len(workbook) // 2])
    return Expectation("huaxin_retail/kucun_20250703.xlsx", "not a readable Excel workbook", ())


def wrong_extension(env: HostileEnv) -> Expectation:
    _write(env.landing / "redwood_grocers" / "sales_20250702.csv", _xlsx({"xl/workbook.xml": b"<workbook/>"}))
    return Expectation("redwood_grocers/sales_20250702.csv", "line 1: cannot decode as utf-8", ())


def zero_byte(env: HostileEnv) -> Expectation:
    _write(env.landing / "redwood_grocers" / "sales_20250703.csv", b"")
    return Expectation("redwood_grocers/sales_20250703.csv", "empty file (0 bytes)", ())


def hidden_file(env: HostileEnv) -> Expectation:
    _write(env.landing / "redwood_grocers" / ".sales_20250704.csv.part", b"store_nbr,upc\n")
    return Expectation("redwood_grocers/.sales_20250704.csv.part", "hidden file", ())


def named_pipe(env: HostileEnv) -> Expectation:
    os.mkfifo(env.landing / "redwood_grocers" / "sales_20250705.csv")
    return Expectation("redwood_grocers/sales_20250705.csv", "not a regular file", ())


def deep_folders(env: HostileEnv) -> Expectation:
    folder = env.landing / "redwood_grocers" / "/".join(["d"] * 30)
    _write(folder / "sales_20250706.csv", b"store_nbr\n1\n")
    return Expectation("redwood_grocers/d/d/d/d/d/d/d/d", "max_folder_depth", ())


def many_small_files(env: HostileEnv, count: int = 10_000) -> Expectation:
    for number in range(count):
        _write(env.landing / "new_flood" / f"f{number:05}.csv", b"x\n")
    return Expectation("new_flood/f00000.csv", "no partner config", ())


CASES: dict[str, Callable[[HostileEnv], Expectation]] = {
    case.__name__: case
    for case in (
        non_utf8_name,
        folder_without_yaml,
        invalid_yaml_with_python_tag,
        xlsx_bomb,
        billion_laughs_xlsx,
        xxe_xlsx,
        huge_one_line_csv,
        deep_json,
        symlink_out_of_the_landing,
        symlinked_folder_out_of_the_landing,
        alias_folder_linked_to_a_partner,
        truncated_zip,
        wrong_extension,
        zero_byte,
        hidden_file,
        named_pipe,
        deep_folders,
        many_small_files,
    )
}
