"""KML placemarks' attributes, read beside GDAL's KML driver (importers/kml.py)."""

from __future__ import annotations

import pyogrio

from importers.kml import DATA_NOT_MATCHED, placemark_data, with_placemark_data

NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Bản đồ</name>
<Placemark><name>P0</name><ExtendedData><Data name="k"><value>0</value></Data></ExtendedData>
  <Point><coordinates>106.17,20.42</coordinates></Point></Placemark>
<Folder><name>Làng nghề</name>
  <Placemark><name>P1</name><ExtendedData><Data name="k"><value>1</value></Data></ExtendedData>
    <Point><coordinates>106.17,20.42</coordinates></Point></Placemark>
  <Folder><name>Con</name><Placemark><name>P2</name>
    <ExtendedData><SchemaData schemaUrl="#s"><SimpleData name="k">2</SimpleData></SchemaData></ExtendedData>
    <Point><coordinates>106.17,20.42</coordinates></Point></Placemark></Folder>
</Folder>
<Folder><Placemark><name>P3</name><Point><coordinates>106.17,20.42</coordinates></Point></Placemark></Folder>
<Folder><name>Làng nghề</name><Placemark><name>P4</name>
  <ExtendedData><Data name="k"><value>4</value></Data></ExtendedData>
  <Point><coordinates>106.17,20.42</coordinates></Point></Placemark></Folder>
</Document></kml>"""


def test_containers_come_in_the_order_gdal_makes_layers_of_them(tmp_path):
    path = tmp_path / "long.kml"
    path.write_text(NESTED, encoding="utf-8")
    layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    names = [list(pyogrio.read_dataframe(path, layer=layer)["Name"]) for layer in layers]
    assert names == [["P2"], ["P1"], ["P3"], ["P4"], ["P0"]]  # inner folders first, the document last
    assert placemark_data(path) == [[{"k": "2"}], [{"k": "1"}], [{}], [{"k": "4"}], [{"k": "0"}]]

    converted, notes = with_placemark_data(path, tmp_path)
    assert notes == [] and converted.suffix == ".gpkg"
    for layer, expected in zip(layers, [["2"], ["1"], None, ["4"], ["0"]], strict=True):
        frame = pyogrio.read_dataframe(converted, layer=layer)
        assert (list(frame["k"]) if "k" in frame else None) == expected, layer  # a layer has its own columns only


def test_a_kml_with_entities_is_left_to_gdal_with_a_note(tmp_path):
    path = tmp_path / "thuc_the.kml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY lang "Làng">]>'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&lang; A</name>'
        '<ExtendedData><Data name="k"><value>1</value></Data></ExtendedData>'
        "<Point><coordinates>106.17,20.42</coordinates></Point></Placemark></Document></kml>", encoding="utf-8")
    assert with_placemark_data(path, tmp_path) == (path, [DATA_NOT_MATCHED])


def test_a_kml_without_attributes_is_read_as_it_is(tmp_path):
    path = tmp_path / "tron.kml"
    path.write_text('<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>A</name>'
                    "<Point><coordinates>106.17,20.42</coordinates></Point></Placemark></kml>", encoding="utf-8")
    assert with_placemark_data(path, tmp_path) == (path, [])


def test_attributes_named_like_gdal_s_columns_or_the_geopackage_s_are_kept(tmp_path):
    """"name" and "Description" as attributes (this app's exports write the real description so) win over
    GDAL's Name and Description; fid and repeated names written otherwise are kept under other names; a
    placemark without a shape, which GDAL leaves out, is left out here too."""
    path = tmp_path / "trung_ten.kml"
    path.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Placemark><name>Nhãn</name><description>&lt;table&gt;bảng&lt;/table&gt;</description><ExtendedData>"
        '<Data name="name"><value>Tên thật</value></Data><Data name="Description"><value>Mô tả thật</value></Data>'
        '<Data name="fid"><value>7</value></Data><Data name="Area"><value>1</value></Data>'
        '<Data name="area"><value>2</value></Data><Data name="  "><value>?</value></Data></ExtendedData>'
        "<Point><coordinates>106.17,20.42</coordinates></Point></Placemark>"
        "<Placemark><name>Không hình</name><ExtendedData><Data name='name'><value>x</value></Data></ExtendedData></Placemark>"
        "</Document></kml>", encoding="utf-8")
    converted, notes = with_placemark_data(path, tmp_path)
    assert notes == []
    frame = pyogrio.read_dataframe(converted)
    row = frame.iloc[0].to_dict()
    assert len(frame) == 1
    assert (row["name"], row["Description"], row["Name (KML)"]) == ("Tên thật", "Mô tả thật", "Nhãn")
    assert row["Description (KML)"] == "<table>bảng</table>"
    assert (row["fid (ExtendedData)"], row["Area"], row["area (ExtendedData)"]) == ("7", "1", "2")


def test_shapes_keep_their_type_beside_a_multigeometry(tmp_path):
    """GDAL's writer would make every point of the layer a multipoint once it meets one MultiGeometry."""
    path = tmp_path / "hon_hop.kml"
    path.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        '<Placemark><name>A</name><ExtendedData><Data name="k"><value>1</value></Data></ExtendedData>'
        "<Point><coordinates>106.17,20.42</coordinates></Point></Placemark>"
        '<Placemark><name>B</name><ExtendedData><Data name="k"><value>2</value></Data></ExtendedData>'
        "<MultiGeometry><Point><coordinates>106.171,20.42</coordinates></Point>"
        "<Point><coordinates>106.172,20.42</coordinates></Point></MultiGeometry></Placemark></Document></kml>",
        encoding="utf-8")
    converted, notes = with_placemark_data(path, tmp_path)
    assert notes == []
    assert list(pyogrio.read_dataframe(converted).geometry.geom_type) == ["Point", "MultiPoint"]
