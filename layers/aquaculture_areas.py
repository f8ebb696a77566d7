"""Aquaculture areas: ponds, tidal flats and cages for fish and shellfish."""

from layers.base import Field, Layer, Style, area_field, enum, illustrative_field, place_fields, text

LAYER = Layer(
    id="aquaculture_areas",
    vi="Vùng nuôi trồng thủy sản",
    en="Aquaculture areas",
    geometry="MultiPolygon",
    derive_area=True,
    order=20,
    description_vi="Vùng nuôi tôm, ngao, cá và các loài thủy sản khác.",
    description_en="Areas farming shrimp, clams, fish and other aquatic species.",
    style=Style(color="#1565c0", fill_color="#42a5f5"),
    fields=(
        text("name", "Tên vùng", "Name", required=True, searchable=True, popup=True, max_length=200),
        text("name_en", "Tên tiếng Anh", "English name", searchable=True, max_length=200),
        enum(
            "species", "Đối tượng nuôi", "Species",
            [
                ("shrimp", "Tôm", "Shrimp"),
                ("clam", "Ngao", "Clam"),
                ("fish", "Cá", "Fish"),
                ("crab", "Cua", "Crab"),
                ("seaweed", "Rong biển", "Seaweed"),
                ("mixed", "Nuôi ghép", "Mixed"),
            ],
            required=True, filterable=True, popup=True,
        ),
        enum(
            "water_type", "Loại nước", "Water type",
            [("fresh", "Nước ngọt", "Fresh"), ("brackish", "Nước lợ", "Brackish"), ("marine", "Nước mặn", "Marine")],
            required=True, filterable=True, popup=True,
        ),
        enum(
            "method", "Hình thức nuôi", "Farming method",
            [
                ("extensive", "Quảng canh", "Extensive"),
                ("semi_intensive", "Bán thâm canh", "Semi-intensive"),
                ("intensive", "Thâm canh", "Intensive"),
                ("tidal_flat", "Bãi triều", "Tidal flat"),
                ("cage", "Lồng bè", "Cage"),
            ],
            filterable=True, popup=True,
        ),
        enum(
            "status", "Trạng thái", "Status",
            [
                ("planned", "Quy hoạch", "Planned"),
                ("active", "Đang nuôi", "Active"),
                ("suspended", "Tạm ngừng", "Suspended"),
            ],
            filterable=True, popup=True,
        ),
        text("owner", "Hợp tác xã/chủ sở hữu", "Cooperative/owner", searchable=True, popup=True, max_length=200),
        text("products", "Sản phẩm", "Products", popup=True, max_length=500),
        Field("description", "longtext", "Mô tả", "Description"),
        Field("description_en", "longtext", "Mô tả (tiếng Anh)", "Description (English)"),
        text("source", "Nguồn", "Source", max_length=1000),
        illustrative_field(),
        area_field(),
        *place_fields(),
    ),
)
