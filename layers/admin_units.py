"""Administrative units: the reference layer places are derived from.

Units change over time (Nam Định joined Ninh Bình in 2025), so each row has a
validity interval and nothing assumes a unit lasts for ever.
"""

from layers.base import Field, Layer, Style, enum, text

LAYER = Layer(
    id="admin_units",
    vi="Đơn vị hành chính",
    en="Administrative units",
    geometry="MultiPolygon",
    derive_place=False,
    editable=False,
    visible=False,
    order=90,
    temporal=("valid_from", "valid_to"),
    outline_filter={"level": "district"},
    description_vi="Ranh giới tỉnh, huyện và xã (ranh giới xã là gần đúng).",
    description_en="Province, district and commune boundaries (commune shapes are approximate).",
    style=Style(color="#555555", fill_color="#000000", fill_opacity=0.0, weight=1),
    fields=(
        text("code", "Mã", "Code", required=True, filterable=True, popup=True, max_length=20),
        text("name", "Tên", "Name", required=True, searchable=True, popup=True, max_length=200),
        text("name_en", "Tên tiếng Anh", "English name", searchable=True, max_length=200),
        enum(
            "level", "Cấp", "Level",
            [("province", "Tỉnh", "Province"), ("district", "Huyện", "District"), ("commune", "Xã", "Commune")],
            required=True, filterable=True, popup=True,
        ),
        text("parent_code", "Mã đơn vị cấp trên", "Parent code", filterable=True, max_length=20),
        Field("approximate", "boolean", "Ranh giới gần đúng", "Approximate boundary", popup=True),
        Field("valid_from", "date", "Hiệu lực từ", "Valid from"),
        Field("valid_to", "date", "Hiệu lực đến", "Valid to"),
        text("source", "Nguồn", "Source", max_length=1000),
    ),
)
