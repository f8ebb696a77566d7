"""Farming zones: crop-growing areas drawn by agriculture officers."""

from layers.base import Layer, Style, enum, name_fields, text, zone_fields

CROPS = [
    ("rice", "Lúa", "Rice"),
    ("rice_seed", "Lúa giống", "Rice seed"),
    ("vegetables", "Rau màu", "Vegetables"),
    ("fruit", "Cây ăn quả", "Fruit"),
    ("ornamental", "Hoa, cây cảnh", "Ornamental plants"),
    ("salt", "Muối", "Salt"),
    ("other", "Khác", "Other"),
]

LAYER = Layer(
    id="farming_zones",
    vi="Vùng sản xuất nông nghiệp",
    en="Farming zones",
    geometry="MultiPolygon",
    derive_area=True,
    overlap="warn",  # land may carry a winter crop after rice: another zone
    order=10,
    description_vi="Vùng trồng trọt và sản xuất muối do cán bộ nông nghiệp quản lý.",
    description_en="Crop-growing and salt-making areas kept by agriculture officers.",
    style=Style(color="#2e7d32", fill_color="#66bb6a"),
    fields=(
        *name_fields("Tên vùng"),
        enum("crop", "Cây trồng", "Crop", CROPS, required=True, filterable=True, popup=True),
        enum(
            "certification", "Chứng nhận", "Certification",
            [
                ("conventional", "Thông thường", "Conventional"),
                ("vietgap", "VietGAP", "VietGAP"),
                ("organic", "Hữu cơ", "Organic"),
                ("globalgap", "GlobalGAP", "GlobalGAP"),
            ],
            filterable=True, popup=True,
        ),
        text("season", "Mùa vụ", "Season", popup=True, max_length=100),
        *zone_fields("Đang sản xuất"),
    ),
)
