"""Aquaculture areas: ponds, tidal flats and cages for fish and shellfish."""

from layers.base import Layer, Style, enum, name_fields, zone_fields

LAYER = Layer(
    id="aquaculture_areas",
    vi="Vùng nuôi trồng thủy sản",
    en="Aquaculture areas",
    geometry="MultiPolygon",
    derive_area=True,
    overlap="reject",
    order=20,
    description_vi="Vùng nuôi tôm, ngao, cá và các loài thủy sản khác.",
    description_en="Areas farming shrimp, clams, fish and other aquatic species.",
    style=Style(color="#1565c0", fill_color="#42a5f5"),
    fields=(
        *name_fields("Tên vùng"),
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
        *zone_fields("Đang nuôi"),
    ),
)
