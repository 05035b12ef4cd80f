/* global ol */
'use strict';
// The base layer of SEGIS admin maps (geo.widgets.OfflineMapWidget): our own region outlines
// and names, GeoJSON from the region admin, so maps work on an intranet with no tile server.
const SegisBasemap = (function() {
    const sources = {};  // one download per page, however many maps it has
    const LEVEL_Z = {province: 3, city: 2, county: 1};
    const STROKES = {
        province: new ol.style.Stroke({color: '#6b5a48', width: 2.2}),
        city: new ol.style.Stroke({color: '#8a7a66', width: 1.4}),
        county: new ol.style.Stroke({color: '#a89f92', width: 1, lineDash: [5, 3]})
    };
    // Names show once the map is close enough for them not to crowd (metres per pixel).
    const LABEL_MAX_RESOLUTION = {province: Infinity, city: 2500, county: 400};
    const LAND = new ol.style.Style({fill: new ol.style.Fill({color: '#fbf8ef'}), zIndex: 0});
    const TEXT_FILL = new ol.style.Fill({color: '#3d3226'});
    const TEXT_HALO = new ol.style.Stroke({color: 'rgba(255, 255, 255, 0.85)', width: 3});
    // The record itself: bold enough to find at a glance over the outlines.
    const ACCENT = '#d9480f';
    const FEATURE = new ol.style.Style({
        image: new ol.style.Circle({
            radius: 7,
            fill: new ol.style.Fill({color: ACCENT}),
            stroke: new ol.style.Stroke({color: '#ffffff', width: 2})
        }),
        stroke: new ol.style.Stroke({color: ACCENT, width: 3}),
        fill: new ol.style.Fill({color: 'rgba(217, 72, 15, 0.12)'}),
        zIndex: 20
    });
    // A drawn point has an empty extent and MapWidget zooms to 1 m a pixel, where no outline
    // shows: zoom out to about 45 km across, county scale.
    const SMALL_EXTENT_M = 1000;
    const ZOOM_AROUND_SMALL = 11;

    function source(url) {
        if (!sources[url]) {
            sources[url] = new ol.source.Vector({url: url, format: new ol.format.GeoJSON()});
        }
        return sources[url];
    }

    function stylesOf(feature) {
        if (!feature.segisStyles) {
            const level = feature.get('level');
            const styles = {
                outline: new ol.style.Style({stroke: STROKES[level] || STROKES.county, zIndex: LEVEL_Z[level] || 1}),
                label: null
            };
            const at = feature.get('label_point');
            if (at) {
                styles.label = new ol.style.Style({
                    geometry: new ol.geom.Point(ol.proj.fromLonLat(at)),
                    text: new ol.style.Text({
                        text: feature.get('name'),
                        font: level === 'county' ? '12px sans-serif' : 'bold 13px sans-serif',
                        fill: TEXT_FILL,
                        stroke: TEXT_HALO
                    }),
                    zIndex: 10
                });
            }
            feature.segisStyles = styles;
        }
        return feature.segisStyles;
    }

    function style(feature, resolution) {
        const styles = stylesOf(feature);
        const result = [styles.outline];
        if (feature.get('outer')) {
            result.push(LAND);
        }
        const level = feature.get('level');
        if (styles.label && resolution <= (LABEL_MAX_RESOLUTION[level] || 0)) {
            result.push(styles.label);
        }
        return result;
    }

    function layer(url) {
        return new ol.layer.Vector({source: source(url), style: style, declutter: true});
    }

    function attach(widget, options) {
        const map = widget.map;
        map.getTargetElement().classList.add('segis-map-canvas');
        map.getTargetElement().style.background = '#e3e8eb';
        map.addControl(new ol.control.ScaleLine());
        widget.featureOverlay.setStyle(FEATURE);
        const drawn = widget.featureOverlay.getSource().getFeatures();
        if (drawn.length) {
            const extent = ol.extent.createEmpty();
            drawn.forEach((feature) => ol.extent.extend(extent, feature.getGeometry().getExtent()));
            const view = map.getView();
            if (ol.extent.getWidth(extent) < SMALL_EXTENT_M && ol.extent.getHeight(extent) < SMALL_EXTENT_M) {
                view.setZoom(Math.min(view.getZoom(), ZOOM_AROUND_SMALL));
            } else {
                view.fit(extent, {padding: [24, 24, 24, 24]});  // MapWidget fits edge to edge
            }
        }
        if (options && options.readonly) {
            Object.values(widget.interactions).forEach((interaction) => interaction && interaction.setActive(false));
        }
    }

    return {layer: layer, attach: attach};
}());
