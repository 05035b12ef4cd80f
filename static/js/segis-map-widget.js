'use strict';
// Starts the admin map widget this script sits in (templates/admin/gis/offline-openlayers.html):
// its options are the wrapper's data attributes, as the CSP runs no inline script.
/* global MapWidget, SegisBasemap */
(function() {
    const box = document.currentScript.parentElement;
    const options = box.dataset;
    const widget = new MapWidget({
        base_layer: SegisBasemap.layer(options.basemapUrl),
        geom_name: options.geomName,
        id: options.id,
        map_id: options.id + '_map',
        map_srid: Number(options.mapSrid),
        name: options.name,
        default_lon: Number(options.defaultLon),
        default_lat: Number(options.defaultLat),
        default_zoom: Number(options.defaultZoom)
    });
    // Django's widget template names the widget in a global, as other scripts may look it up.
    window[options.module] = widget;
    SegisBasemap.attach(widget, {readonly: options.readonly === 'true'});
})();
