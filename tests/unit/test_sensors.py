import os

from orchestration.sensors import landing_fingerprints, new_deliveries


def write(path, text: str, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_only_settled_files_are_seen(tmp_path):
    write(tmp_path / "redwood" / "sales_1.csv", "a", 1000)
    write(tmp_path / "redwood" / "sales_2.csv", "b", 1095)
    seen = landing_fingerprints(tmp_path, now=1100, quiet_seconds=30)
    assert list(seen) == ["redwood/sales_1.csv"]


def test_new_and_changed_files_are_grouped_by_partner(tmp_path):
    write(tmp_path / "redwood" / "sales_1.csv", "a", 1000)
    write(tmp_path / "_supplier" / "products.csv", "p", 1000)
    first = landing_fingerprints(tmp_path, now=2000)
    assert new_deliveries({}, first) == {"_supplier": ["_supplier/products.csv"], "redwood": ["redwood/sales_1.csv"]}
    assert new_deliveries(first, first) == {}
    write(tmp_path / "redwood" / "sales_1.csv", "corrected", 1500)
    write(tmp_path / "hansa" / "Bestand_1.csv", "x", 1500)
    second = landing_fingerprints(tmp_path, now=2000)
    assert new_deliveries(first, second) == {"hansa": ["hansa/Bestand_1.csv"], "redwood": ["redwood/sales_1.csv"]}


def test_missing_landing_folder_is_no_delivery(tmp_path):
    assert landing_fingerprints(tmp_path / "absent", now=0) == {}
