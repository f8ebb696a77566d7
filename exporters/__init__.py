"""Exports: filtered layers written to GeoPackage, Shapefile, KML, CSV and GeoJSON through GDAL."""
