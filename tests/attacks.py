"""Hostile parameter values that every endpoint must answer with an error or a harmless result."""

INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "'; DROP TABLE relics; --",
    "1); DELETE FROM relics; --",
    "\"; TRUNCATE farming_zones; --",
    "$$; DROP TABLE admin_units; $$",
    "') UNION SELECT version() --",
    "%' AND pg_sleep(1) IS NULL AND '%'='",
    "\\'; DROP TABLE relics; --",
    "E'\\x27'",
]
