"""Regional export of the map's layers: GeoPackage, Shapefile, GeoJSON, KML, CSV and XLSX.

`export_layer(user, layer, query, area, format, crs, destination, progress=...)` writes one file
from the user's scoped rows under the map's filters (or, for `regions`, the map's region
choropleth); `parse_request` reads and checks every parameter at once; `count_rows` estimates
before a run; `export_filename` and `content_disposition` name the download. See docs/export.md.
"""

from .core import (
    CHUNK_ROWS,
    TEMP_PREFIX,
    ExportResult,
    count_rows,
    download_names,
    export_layer,
    layer_rows,
)
from .naming import ascii_filename, content_disposition, export_filename
from .options import (
    FORMATS,
    LAYER_TITLES,
    REGIONS,
    TARGETS,
    Area,
    ExportError,
    ExportRequest,
    Format,
    Target,
    parse_crs,
    parse_format,
    parse_polygon,
    parse_request,
)

__all__ = [
    "CHUNK_ROWS",
    "FORMATS",
    "LAYER_TITLES",
    "REGIONS",
    "TARGETS",
    "TEMP_PREFIX",
    "Area",
    "ExportError",
    "ExportRequest",
    "ExportResult",
    "Format",
    "Target",
    "ascii_filename",
    "content_disposition",
    "count_rows",
    "download_names",
    "export_filename",
    "export_layer",
    "layer_rows",
    "parse_crs",
    "parse_format",
    "parse_polygon",
    "parse_request",
]
