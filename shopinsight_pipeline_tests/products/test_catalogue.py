"""The products dimension without Dagster: a catalogue export split line by line into products
and quarantined lines, every line in exactly one of them, each rejection naming file, line and rule."""

import pytest

from shopinsight_pipeline.ingest.landing import LandingFileError
from shopinsight_pipeline.products.catalogue import product_labels, split_catalogue
from shopinsight_pipeline.schemas import PRODUCTS_SCHEMA, QUARANTINED_PRODUCTS_SCHEMA

HEADER = "product_id,product_name,category,brand,list_price\n"


def split(body: str, header: str = HEADER):
    return split_catalogue((header + body).encode("utf-8"), "products_2026-08-01.csv")


def test_good_lines_become_typed_products_with_their_lineage():
    catalogue = split(
        'P000,"Voltra earbuds, white",electronics,Voltra,1411.13\nP001,Lumo power bank,electronics,Lumo,99\n'
    )
    assert catalogue.quarantined.is_empty() and catalogue.lines == 2
    assert dict(catalogue.products.schema) == PRODUCTS_SCHEMA
    first = catalogue.products.row(0, named=True)
    assert first["product_name"] == "Voltra earbuds, white"  # a quoted comma stays in the name
    assert first["list_price"] == pytest.approx(1411.13)
    assert (first["source_file"], first["line_number"]) == ("products_2026-08-01.csv", 2)
    assert product_labels(catalogue.products) == {"P000": "Voltra earbuds, white", "P001": "Lumo power bank"}


@pytest.mark.parametrize(
    ("line", "rule", "shown"),
    [
        (",Lumo power bank,electronics,Lumo,99", "missing_product_id", "product_id=''"),
        ("P 001,Lumo power bank,electronics,Lumo,99", "product_id_with_space", "product_id='P 001'"),
        ("P001,,electronics,Lumo,99", "missing_product_name", "product_name=''"),
        ("P001,Lumo power bank,,Lumo,99", "missing_category", "category=''"),
        ("P001,Lumo power bank,electronics,Lumo,99\u002c50", "wrong_field_count", "wrong_field_count"),
        ("P001,Lumo power bank,electronics,Lumo,abc", "list_price_not_a_number", "list_price='abc'"),
        ("P001,Lumo power bank,electronics,Lumo,0.00", "list_price_not_positive", "list_price='0.00'"),
        ("P001,Lumo power bank,electronics,Lumo,-5", "list_price_not_positive", "list_price='-5'"),
        ("P001,Lumo power bank,electronics", "wrong_field_count", "list_price=<missing>"),
    ],
)
def test_a_bad_line_is_quarantined_with_a_reason_naming_file_line_and_rule(line, rule, shown):
    catalogue = split("P000,Voltra earbuds,electronics,Voltra,10\n" + line + "\n")
    assert catalogue.products.get_column("product_id").to_list() == ["P000"]
    [rejected] = catalogue.quarantined.iter_rows(named=True)
    assert rule in rejected["rejected_rules"]
    assert rejected["reason"].startswith("products_2026-08-01.csv line 3: ")
    assert shown in rejected["reason"]
    assert dict(catalogue.quarantined.schema) == QUARANTINED_PRODUCTS_SCHEMA
    assert catalogue.products.height + catalogue.quarantined.height == catalogue.lines == 2


def test_a_repeated_id_keeps_its_first_line_and_quarantines_the_later_one():
    catalogue = split("P000,First name,home,Soma,10\nP000,Second name,home,Soma,12\n")
    assert catalogue.products.get_column("product_name").to_list() == ["First name"]
    [rejected] = catalogue.quarantined.iter_rows(named=True)
    assert rejected["rejected_rules"] == ["duplicate_product_id"] and rejected["line_number"] == 3


def test_blank_lines_are_no_products_and_line_numbers_count_them():
    catalogue = split("\nP000,Name,home,Soma,10\n\n,Unnamed id,home,Soma,10\n")
    assert catalogue.lines == 2
    assert catalogue.products.get_column("line_number").to_list() == [3]
    assert catalogue.quarantined.get_column("line_number").to_list() == [5]


def test_columns_in_another_order_and_a_gbk_export_are_read():
    header = "brand,list_price,product_id,category,product_name\n"
    data = (header + "Soma,10,P100,home,陶瓷杯\n").encode("gbk")
    catalogue = split_catalogue(data, "products.csv")
    assert catalogue.encoding == "gb18030"
    assert catalogue.products.select("product_id", "product_name").row(0) == ("P100", "陶瓷杯")


def test_a_header_without_a_field_or_an_empty_file_fails_naming_the_file():
    with pytest.raises(LandingFileError, match=r"products_2026-08-01.csv: header .* lacks \['brand'\]"):
        split("P000,Name,home,10\n", header="product_id,product_name,category,list_price\n")
    with pytest.raises(LandingFileError, match=r"products\.csv: empty file"):
        split_catalogue(b"", "products.csv")
