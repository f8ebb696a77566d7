"""The layer registry: every layer Vùng serves, declared once each."""

from layers import admin_units, aquaculture_areas, craft_villages, farming_zones, relics
from layers.base import Layer
from layers.check import check_layer

REGISTRY: dict[str, Layer] = {
    m.LAYER.id: m.LAYER
    for m in sorted(
        (farming_zones, aquaculture_areas, craft_villages, relics, admin_units),
        key=lambda m: m.LAYER.order,
    )
}

for _layer in REGISTRY.values():
    check_layer(_layer)


def get_layer(layer_id: str) -> Layer | None:
    return REGISTRY.get(layer_id)


def public_layers() -> list[Layer]:
    return [layer for layer in REGISTRY.values() if layer.public]


def editable_layers() -> list[Layer]:
    return [layer for layer in REGISTRY.values() if layer.editable]
