"""Regional export of the map's layers: GeoPackage, Shapefile, GeoJSON, KML, CSV and XLSX.

`core.export_layer(user, layer, query, area, format, crs, destination, progress=...)` writes one
file from the user's scoped rows under the map's filters (or, for `regions`, the map's region
choropleth); `options.parse_request` reads and checks every parameter at once; `core.count_rows`
estimates before a run; `naming.export_filename` names the download; `jobs` runs the large ones in
the background. See docs/export.md.
"""
