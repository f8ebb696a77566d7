"""Traditional craft villages, as a point or an outline of the village."""

from layers.base import Field, Layer, Style, description_fields, enum, name_fields, place_fields, source_field, text

LAYER = Layer(
    id="craft_villages",
    vi="Làng nghề truyền thống",
    en="Craft villages",
    geometry="Geometry",
    order=30,
    description_vi="Làng nghề truyền thống của tỉnh.",
    description_en="The province's traditional craft villages.",
    style=Style(color="#6d4c41", fill_color="#ffb74d"),
    fields=(
        *name_fields("Tên làng nghề"),
        enum(
            "craft", "Nghề", "Craft",
            [
                ("metalwork", "Cơ khí, rèn, đúc", "Metalwork and casting"),
                ("woodwork", "Chạm khắc gỗ, đồ gỗ", "Woodwork and carving"),
                ("lacquer", "Sơn mài", "Lacquerware"),
                ("weaving", "Mây tre đan", "Bamboo and rattan weaving"),
                ("textile", "Dệt, ươm tơ", "Textiles and silk"),
                ("food", "Chế biến thực phẩm", "Food processing"),
                ("salt", "Làm muối", "Salt making"),
                ("horticulture", "Hoa, cây cảnh", "Flowers and ornamental plants"),
                ("other", "Khác", "Other"),
            ],
            required=True, filterable=True, popup=True,
        ),
        text("products", "Sản phẩm", "Products", popup=True, max_length=500),
        Field("recognised_year", "integer", "Năm công nhận", "Year recognised", popup=True),
        Field("households", "integer", "Số hộ làm nghề", "Households", unit="hộ"),
        *description_fields(popup=True),
        Field("photo", "photo", "Ảnh", "Photo"),
        text("precision", "Độ chính xác vị trí", "Location precision", max_length=50),
        source_field(),
        *place_fields(),
    ),
)
