"""Import limits: the defaults in one place, each overridable by a setting of the same name.

The figures are sized for a provincial data office's files on the 2-core reference machine: a
200,000-row equipment table is about 60 MB as CSV and 80 MB as GeoPackage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

MIB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    # Largest upload stored, in bytes (any format).
    "IMPORT_MAX_UPLOAD_BYTES": 256 * MIB,
    # GeoJSON is parsed whole (by Python, to vet it, then by GDAL): kept smaller than the rest.
    "IMPORT_MAX_GEOJSON_BYTES": 64 * MIB,
    # Zip archives (XLSX, zipped Shapefile), checked from the central directory before extraction.
    "IMPORT_ZIP_MAX_MEMBERS": 1_000,
    "IMPORT_ZIP_MAX_UNCOMPRESSED_BYTES": 2_048 * MIB,
    # Uncompressed / compressed, per member and overall. Real DBF and sheet XML stay under ~60;
    # a zip bomb is in the thousands.
    "IMPORT_ZIP_MAX_RATIO": 200,
    # The bounded read of GDAL formats (GeoJSON, GeoPackage, Shapefile) in a child process.
    "IMPORT_READ_SECONDS": 600,  # wall clock, whole read
    "IMPORT_READ_CPU_SECONDS": 600,  # RLIMIT_CPU of the child
    "IMPORT_READ_MEMORY_BYTES": 1_024 * MIB,  # RLIMIT_AS of the child, above what its imports take
    "IMPORT_READ_BATCH_ROWS": 20_000,  # rows per Arrow batch from the child
}


def limit(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def import_root() -> Path:
    """Private directory of stored uploads: like EXPORT_ROOT, served by no web server."""
    default = Path(getattr(settings, "BASE_DIR", ".")) / "var" / "imports"
    return Path(getattr(settings, "IMPORT_ROOT", default))
