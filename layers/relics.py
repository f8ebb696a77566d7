"""Historical relics: temples, pagodas, communal houses, churches, sites."""

from layers.base import Field, Layer, Style, description_fields, enum, name_fields, place_fields, source_field, text

LAYER = Layer(
    id="relics",
    vi="Di tích lịch sử – văn hoá",
    en="Historical relics",
    geometry="Point",
    order=40,
    description_vi="Di tích lịch sử, văn hoá và danh thắng đã hoặc chưa xếp hạng.",
    description_en="Historical, cultural and scenic relics, ranked or not.",
    style=Style(color="#b71c1c", fill_color="#e53935"),
    fields=(
        *name_fields("Tên di tích"),
        enum(
            "kind", "Loại hình", "Kind",
            [
                ("temple", "Đền", "Temple"),
                ("pagoda", "Chùa", "Pagoda"),
                ("communal_house", "Đình", "Communal house"),
                ("shrine", "Phủ, miếu", "Shrine"),
                ("church", "Nhà thờ", "Church"),
                ("house", "Nhà cổ, nhà lưu niệm", "Historic or memorial house"),
                ("monument", "Công trình kiến trúc", "Monument"),
                ("nature", "Danh thắng", "Natural site"),
                ("other", "Khác", "Other"),
            ],
            required=True, filterable=True, popup=True,
        ),
        enum(
            "rank", "Xếp hạng", "Rank",
            [
                ("special_national", "Quốc gia đặc biệt", "Special national"),
                ("national", "Quốc gia", "National"),
                ("provincial", "Cấp tỉnh", "Provincial"),
                ("unranked", "Chưa xếp hạng", "Unranked"),
            ],
            required=True, filterable=True, popup=True,
        ),
        text("decision", "Quyết định công nhận", "Recognition decision", popup=True, max_length=500),
        text("era", "Niên đại", "Era", max_length=200),
        text("festival", "Lễ hội", "Festival", max_length=500),
        *description_fields(popup=True),
        text("address", "Địa chỉ", "Address", max_length=500),
        Field("photo", "photo", "Ảnh", "Photo"),
        text("precision", "Độ chính xác vị trí", "Location precision", max_length=50),
        source_field(),
        *place_fields(),
    ),
)
