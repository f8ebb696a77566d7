"""Synthetic data sets for benchmarks: many zones, reproducible from a seed."""

from sqlalchemy import Connection

from layers import REGISTRY
from layers.store import delete_all, generate_synthetic_zones

MAX_ROUNDS = 20


def generate_zones(conn: Connection, count: int, seed: float = 0.42, replace: bool = False) -> int:
    if not -1 <= seed <= 1:
        raise ValueError("seed must lie in [-1, 1]")
    if replace:
        delete_all(conn, REGISTRY["farming_zones"])
    made = generate_synthetic_zones(conn, count, seed)
    # The province fills about a third of its bounding box: draw again until enough.
    for _ in range(MAX_ROUNDS):
        if made >= count:
            break
        made += generate_synthetic_zones(conn, count - made, None, start=made)
    return made
