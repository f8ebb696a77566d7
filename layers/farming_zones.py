"""Farming zones: crop-growing areas drawn by agriculture officers."""

from layers.base import Field, Layer, Style, area_field, enum, illustrative_field, place_fields, text

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
    order=10,
    description_vi="Vùng trồng trọt và sản xuất muối do cán bộ nông nghiệp quản lý.",
    description_en="Crop-growing and salt-making areas kept by agriculture officers.",
    style=Style(color="#2e7d32", fill_color="#66bb6a"),
    fields=(
        text("name", "Tên vùng", "Name", required=True, searchable=True, popup=True, max_length=200),
        text("name_en", "Tên tiếng Anh", "English name", searchable=True, max_length=200),
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
        text("owner", "Hợp tác xã/chủ sở hữu", "Cooperative/owner", searchable=True, popup=True, max_length=200),
        enum(
            "status", "Trạng thái", "Status",
            [
                ("planned", "Quy hoạch", "Planned"),
                ("active", "Đang sản xuất", "Active"),
                ("suspended", "Tạm ngừng", "Suspended"),
            ],
            filterable=True, popup=True,
        ),
        text("products", "Sản phẩm", "Products", popup=True, max_length=500),
        Field("description", "longtext", "Mô tả", "Description"),
        Field("description_en", "longtext", "Mô tả (tiếng Anh)", "Description (English)"),
        text("source", "Nguồn", "Source", max_length=1000),
        illustrative_field(),
        area_field(),
        *place_fields(),
    ),
)
