/* global maplibregl */
'use strict';
// The supervisor's map (/map/): MapLibre GL over our own region outlines, with the tile server's
// layers (maps/tiles.py), filters, counts in view, search and popups. Everything it loads comes
// from this site: the online basemaps are requested only when the user picks one.
(function() {
    const config = JSON.parse(document.getElementById('segis-map-config').textContent);
    const ORIGIN = window.location.origin;
    const NUMBER = new Intl.NumberFormat('zh-CN');

    // No `glyphs` URL in the style: MapLibre 5 then draws every label, Chinese or digits, with
    // the browser's own fonts (TinySDF), so labels need no glyph files and no network.
    const FONT = ['Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', 'sans-serif'];
    const FONT_BOLD = ['Noto Sans CJK SC Bold', 'Microsoft YaHei Bold', 'PingFang SC', 'sans-serif'];

    // The map's palette, as /tiles/layers.json states it (layers/catalogue.py): the catalogue's
    // legends replace these copies when it loads, so legends and features never disagree.
    const palette = {
        kinds: {
            '1000': '#e15759', '2000': '#f28e2b', '3000': '#4e79a7', '4000': '#edc948', '5000': '#59a14f',
            '6000': '#b07aa1', '7000': '#9c755f', '8000': '#76b7b2', '9000': '#ff9da7'
        },
        otherKind: '#9d9d9d',
        statusOpacity: {in_use: 1, suspended: 0.6, cancelled: 0.35, scrapped: 0.2},
        overdueNoDate: '#67001f',  // a failed inspection: no next date, the most urgent
        overdueSteps: [[30, '#fdae61'], [90, '#f46d43'], [365, '#d73027'], [Infinity, '#a50026']],
        roles: {
            use: '#4e79a7', manufacture: '#9c755f', installation: '#f28e2b', maintenance: '#59a14f',
            inspection: '#b07aa1', supervision: '#17becf', filling: '#edc948', rescue: '#d62728'
        },
        severity: {ordinary: '#fdae61', large: '#f46d43', major: '#d73027', extraordinary: '#67001f'},
        resources: {
            rescue_team: '#cc79a7', maintenance_station: '#009e73', fire_station: '#d55e00',
            hospital: '#56b4e9', hazmat_team: '#e69f00', lifting_depot: '#0072b2'
        },
        stations: {clean: '#1a9850', violations: '#c0182b'},  // filling stations: with violations or not
        licences: {valid: '#1a9850', expiring: '#fdae61', expired: '#d73027', suspended: '#7b3294', revoked: '#4d4d4d'},
        legends: {}  // the catalogue's legend per layer, when it has one
    };
    // Where a region's name (or its value) may stand, in ems from its label point, in order: on it,
    // just above or below or beside it, then further off; the first place no cluster glyph covers
    // (MapLibre's collision index, see addClusterLayers).
    const NAME_PLACES = ['literal', [
        'center', [0, 0], 'top', [0, 0.7], 'bottom', [0, -0.7], 'left', [0.8, 0], 'right', [-0.8, 0],
        'top', [0, 2], 'bottom', [0, -2], 'top', [0, 3.4], 'bottom', [0, -3.4], 'left', [3, 0], 'right', [-3, 0]
    ]];
    // A unit with several roles is drawn in the colour of its rarest role: the one a supervisor
    // looks for (nearly every unit is also a use unit).
    const ROLE_PRIORITY = ['rescue', 'maintenance', 'inspection', 'filling', 'installation', 'manufacture', 'supervision', 'use'];
    const CLUSTER_COLOURS = {overdue: '#b2182b', units: '#3b5b8c', accidents: '#7f0000', resources: '#0f766e', stations: '#8a6d00', licences: '#1a6b3c', unlicensed: '#b2182b', unlicensed_filling: '#b35806'};
    // Detail pages (registry/urls.py).
    const DETAIL_URLS = {
        equipment: '/equipment/{id}/',
        overdue: '/equipment/{id}/',
        units: '/units/{id}/',
        accidents: '/accidents/{id}/',
        resources: '/resources/{id}/',
        stations: '/cylinders/stations/{id}/',
        licences: '/licensing/licences/{id}/',
        unlicensed: '/equipment/{id}/',
        unlicensed_filling: '/cylinders/stations/{id}/'
    };
    // Individual features from this zoom on; below it the tiles hold grid clusters.
    const DETAIL_ZOOM = 12;
    const CHINA = [[73.5, 18.0], [135.1, 53.6]];

    const LAYERS = config.layers.map((layer) => layer.name);
    const TITLES = Object.fromEntries(config.layers.map((layer) => [layer.name, layer.title]));
    const labelsOf = (choices) => Object.fromEntries(choices.map((c) => [c.value, c.label]));
    const STATUS_LABELS = labelsOf(config.statuses);
    const ROLE_LABELS = labelsOf(config.roles);
    const SEVERITY_LABELS = labelsOf(config.severities);
    const RESOURCE_LABELS = labelsOf(config.resource_types);
    // The catalogue carries both names as data: the page's language picks one.
    const ENGLISH = document.documentElement.lang === 'en';
    const nameOf = (entry) => (ENGLISH ? entry.en : entry.zh);
    const KIND_NAMES = Object.fromEntries(config.kinds.map((k) => [k.code, nameOf(k)]));
    const VARIETY_NAMES = Object.fromEntries(config.varieties.map((v) => [v.code, nameOf(v)]));

    const $ = (selector, root) => (root || document).querySelector(selector);
    const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
    // Not `new URL()`: it would percent-encode the {z}/{x}/{y} of a tile template.
    const absolute = (path) => (path.startsWith('/') ? ORIGIN + path : path);

    // ------------------------------------------------------------------ map pass
    // Tiles and counts carry a short-lived signed pass (accounts/map_pass.py) so that the server need
    // not look the session up for each of them. It is renewed through the session at half its life,
    // and at once when the server refuses it (a laptop that slept past the expiry).
    const TILES_PREFIX = absolute(config.urls.tiles);
    const mapPass = {token: config.map_pass.token, header: config.map_pass.header, renewing: null, timer: null, lastRetry: 0};

    function schedulePassRenewal(maxAgeS) {
        clearTimeout(mapPass.timer);
        mapPass.timer = setTimeout(renewPass, maxAgeS * 500);
    }

    function renewPass() {
        if (!mapPass.renewing) {
            mapPass.renewing = fetch(config.urls.pass, {credentials: 'same-origin', cache: 'no-store'})
                .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
                .then((fresh) => {
                    mapPass.token = fresh.token;
                    schedulePassRenewal(fresh.max_age_s);
                    return true;
                })
                .catch(() => {
                    showNotice(gettext('登录已失效，请重新登录'));
                    return false;
                })
                .finally(() => { mapPass.renewing = null; });
        }
        return mapPass.renewing;
    }

    const passHeaders = () => ({[mapPass.header]: mapPass.token});

    // The messages of an API's error envelope {errors: {field: [{rule, message, suggestion}]}}.
    function errorMessages(body) {
        return Object.entries((body && body.errors) || {}).flatMap(([field, problems]) => problems.map((p) =>
            `${field}: ${p.message}${p.suggestion ? ` (${interpolate(gettext('建议：%(s)s'), {s: p.suggestion}, true)})` : ''}`));
    }
    schedulePassRenewal(config.map_pass.max_age_s);

    // A fetch of tiles/ with the pass; a refused pass is renewed and the request made once more.
    async function fetchWithPass(url, options) {
        const send = () => fetch(url, {...options, credentials: 'same-origin', headers: {...(options.headers || {}), ...passHeaders()}});
        const response = await send();
        if (response.status === 401 && await renewPass()) {
            return send();
        }
        return response;
    }

    function el(tag, attrs, children) {
        const node = document.createElement(tag);
        Object.entries(attrs || {}).forEach(([key, value]) => {
            if (value === undefined || value === null) {
                return;
            }
            if (key === 'text') {
                node.textContent = value;
            } else if (key === 'style') {
                node.setAttribute('style', value);
            } else {
                node.setAttribute(key, value);
            }
        });
        (children || []).forEach((child) => child && node.append(child));
        return node;
    }

    const state = {
        available: new Set(),  // layers the tile server serves
        countAbort: null,
        marker: null,
        outlines: [],  // the base map's features, to frame a region picked in the filter
        basemap: 'offline'
    };

    // ------------------------------------------------------------------ filters

    function readFilters() {
        const form = $('#filter-form');
        const values = {};
        const checked = (name) => $$(`input[name="${name}"]:checked`, form).map((i) => i.value);
        const kinds = checked('kind');
        const statuses = checked('status');
        if (kinds.length) {
            values.kind = kinds.join(',');
        }
        if (statuses.length) {
            values.status = statuses.join(',');
        }
        ['variety', 'region', 'from', 'to', 'role', 'type'].forEach((name) => {
            const value = form.elements[name].value.trim();
            if (value) {
                values[name] = value;
            }
        });
        return inOrder(values);
    }

    // A range typed backwards is read forwards (the server would refuse it).
    function inOrder(values) {
        if (values.from && values.to && values.from > values.to) {
            [values.from, values.to] = [values.to, values.from];
        }
        return values;
    }

    // Which filters each layer understands; the catalogue's own list wins when it has one.
    const LAYER_FILTERS = {
        equipment: ['kind', 'variety', 'status', 'region', 'from', 'to'],
        overdue: ['kind', 'variety', 'region', 'from', 'to'],
        units: ['region', 'role'],
        accidents: ['kind', 'region', 'window', 'from', 'to'],
        resources: ['region', 'type'],
        stations: ['region'],
        licences: ['region', 'licence_kind'],
        unlicensed: ['kind', 'variety', 'region'],
        unlicensed_filling: ['region']
    };

    function layerQuery(layer) {
        const filters = readFilters();
        const accepted = LAYER_FILTERS[layer];
        const params = new URLSearchParams();
        if (layer === 'accidents') {
            // The accident window replaces the date range: a preset window, or its own dates.
            delete filters.from;
            delete filters.to;
            const span = $('#accident-window').value;
            if (span === 'custom') {
                const from = $('input[name="accident_from"]').value;
                const to = $('input[name="accident_to"]').value;
                if (from) {
                    filters.from = from;
                }
                if (to) {
                    filters.to = to;
                }
                inOrder(filters);
            } else {
                filters.window = span;
            }
        }
        Object.entries(filters).forEach(([name, value]) => {
            if (accepted.includes(name)) {
                params.set(name, value);
            }
        });
        return params.toString();
    }

    function tileUrl(layer) {
        const query = layerQuery(layer);
        return absolute(`${config.urls.tiles}${layer}/{z}/{x}/{y}.pbf${query ? '?' + query : ''}`);
    }

    // ------------------------------------------------------------------ styles

    function matchOn(property, colours, fallback) {
        const match = ['match', ['to-string', ['get', property]]];
        Object.entries(colours).forEach(([value, colour]) => match.push(value, colour));
        match.push(fallback);
        return match;
    }

    const kindColour = () => matchOn('kind', palette.kinds, palette.otherKind);

    const IS_CLUSTER = ['has', 'count'];
    const IS_POINT = ['==', ['geometry-type'], 'Point'];
    const IS_LINE = ['in', ['geometry-type'], ['literal', ['LineString', 'MultiLineString']]];
    const INDIVIDUAL_POINT = ['all', ['!', IS_CLUSTER], IS_POINT];

    // Dark text on light circles, white on dark ones (relative luminance, as WCAG computes it).
    const DARK_TEXT = '#1f2a37';
    function isLight(colour) {
        const hex = /^#([0-9a-f]{6})$/i.exec(colour);
        if (!hex) {
            return true;
        }
        const [r, g, b] = [0, 2, 4].map((i) => {
            const c = parseInt(hex[1].slice(i, i + 2), 16) / 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.3;
    }

    // "1,234", "5.6万" (ten thousands, as Chinese counts read), "1.2亿".
    // Other languages count in thousands and millions.
    const COMPACT = document.documentElement.lang.startsWith('zh') ? null
        : new Intl.NumberFormat('en', {notation: 'compact', maximumFractionDigits: 1});
    function countText(n) {
        if (n >= 10000 && COMPACT) {
            return COMPACT.format(n);
        }
        if (n >= 100000000) {
            return `${Math.round(n / 10000000) / 10}亿`;
        }
        if (n >= 10000) {
            return `${Math.round(n / 1000) / 10}万`;
        }
        return NUMBER.format(n);
    }

    function pointColour(layer) {
        if (layer === 'equipment') {
            return kindColour();
        }
        if (layer === 'overdue') {
            const days = ['to-number', ['get', 'days_overdue'], 0];
            const expression = ['case', ['!', ['has', 'days_overdue']], palette.overdueNoDate];
            const steps = palette.overdueSteps;
            steps.slice(0, -1).forEach(([limit, colour]) => expression.push(['<=', days, limit], colour));
            expression.push(steps[steps.length - 1][1]);
            return expression;
        }
        if (layer === 'units') {
            const roles = ['concat', ',', ['to-string', ['get', 'roles']], ','];
            const expression = ['case'];
            ROLE_PRIORITY.filter((role) => palette.roles[role]).forEach((role) => {
                expression.push(['in', `,${role},`, roles], palette.roles[role]);
            });
            expression.push(CLUSTER_COLOURS.units);
            return expression;
        }
        if (layer === 'accidents') {
            return matchOn('severity', palette.severity, CLUSTER_COLOURS.accidents);
        }
        if (layer === 'licences') {
            return matchOn('validity', palette.licences, CLUSTER_COLOURS.licences);
        }
        if (layer === 'unlicensed' || layer === 'unlicensed_filling') {
            return CLUSTER_COLOURS[layer];
        }
        if (layer === 'stations') {
            return ['case', ['>', ['to-number', ['get', 'violations'], 0], 0], palette.stations.violations, palette.stations.clean];
        }
        return matchOn('type', palette.resources, CLUSTER_COLOURS.resources);
    }

    function pointRadius(layer) {
        if (layer === 'accidents') {
            return ['interpolate', ['linear'], ['to-number', ['get', 'deaths'], 0], 0, 6, 1, 8, 3, 10, 10, 14];
        }
        const base = ['resources', 'stations', 'licences', 'unlicensed', 'unlicensed_filling'].includes(layer) ? 6 : layer === 'overdue' ? 5 : 4;
        return ['interpolate', ['linear'], ['zoom'], DETAIL_ZOOM, base, 17, base + 3];
    }

    function styleLayers(layer) {
        const common = {source: layer, 'source-layer': layer, layout: {visibility: 'none'}};
        const layers = [];
        if (layer === 'accidents') {
            layers.push({
                ...common, id: 'accidents-heat', type: 'heatmap',
                paint: {
                    'heatmap-weight': ['interpolate', ['linear'], ['to-number', ['coalesce', ['get', 'count'], 1], 1], 1, 0.4, 20, 1.5, 200, 3],
                    'heatmap-radius': ['interpolate', ['linear'], ['zoom'], 4, 18, 10, 35, 15, 50],
                    'heatmap-color': ['interpolate', ['linear'], ['heatmap-density'],
                        0, 'rgba(255, 237, 160, 0)', 0.2, 'rgba(254, 217, 118, 0.6)', 0.4, '#feb24c',
                        0.6, '#fd8d3c', 0.8, '#f03b20', 1, '#bd0026'],
                    'heatmap-opacity': 0.8
                }
            });
        }
        if (layer === 'equipment') {
            layers.push({
                ...common, id: 'equipment-lines', type: 'line', filter: IS_LINE,
                layout: {...common.layout, 'line-cap': 'round', 'line-join': 'round'},
                paint: {'line-color': kindColour(), 'line-width': ['interpolate', ['linear'], ['zoom'], 12, 2, 17, 5], 'line-opacity': 0.9}
            });
        }
        const byStatus = ['match', ['to-string', ['get', 'status']]];
        Object.entries(palette.statusOpacity).forEach(([status, opacity]) => byStatus.push(status, 0.9 * opacity));
        byStatus.push(0.9);
        layers.push({
            ...common, id: `${layer}-points`, type: 'circle', filter: INDIVIDUAL_POINT,
            paint: {
                'circle-color': pointColour(layer),
                'circle-radius': pointRadius(layer),
                'circle-opacity': layer === 'equipment' ? byStatus : 0.9,
                'circle-stroke-opacity': layer === 'equipment' ? byStatus : 1,
                'circle-stroke-color': layer === 'accidents' ? '#2b0000' : '#ffffff',
                'circle-stroke-width': ['resources', 'stations', 'unlicensed_filling'].includes(layer) ? 2.5 : 1.2
            }
        });
        return layers;
    }

    const INTERACTIVE = (layer) => [`${layer}-points`].concat(layer === 'equipment' ? ['equipment-lines'] : []);

    // ------------------------------------------------------------------ clusters

    // Below DETAIL_ZOOM each tile layer comes as grid clusters (maps/tiles.py): 8 × 8 cells per tile,
    // one point per cell and layer at the mean of its members. The layers of one cell would pile up
    // on one spot, so the map draws one glyph per cell from all of them: the equipment cluster as a
    // circle sized by its count; round it, a red arc for the overdue share and a badge with the
    // overdue count; the other layers' counts as badges of their own on the rim, each in its own
    // place. Without equipment in a cell, the first other layer there takes the circle.
    const CELL_BITS = 3;
    const ANCHOR_ORDER = ['equipment', 'overdue', 'units', 'accidents', 'resources', 'stations', 'licences', 'unlicensed', 'unlicensed_filling'];
    // Badges sit outside the circle, a corner (or an edge's middle) on its rim at `angle` (degrees
    // anticlockwise from east, held there by `anchor`). Each has a one-character tag, a colour and a
    // place of its own; where a neighbour's circle or badge is in the way it takes the nearest free
    // place round its circle (layoutBadges), and where there is none it is left out: its count is in
    // the cell's tooltip. The list is in order of importance, which picks first.
    const BADGES = {
        overdue: {angle: 45, anchor: 'bottom-left', tag: pgettext('map badge', '逾'), colour: '#c0182b'},
        accidents: {angle: 135, anchor: 'bottom-right', tag: pgettext('map badge', '事'), colour: '#1f1f1f'},
        unlicensed: {angle: 90, anchor: 'bottom', tag: pgettext('map badge', '无'), colour: '#b2182b'},
        unlicensed_filling: {angle: -90, anchor: 'top', tag: pgettext('map badge', '充'), colour: '#b35806'},
        licences: {angle: 0, anchor: 'left', tag: pgettext('map badge', '证'), colour: '#1a6b3c'},
        stations: {angle: 180, anchor: 'right', tag: pgettext('map badge', '瓶'), colour: '#8a6d00'},
        resources: {angle: -45, anchor: 'top-left', tag: pgettext('map badge', '援'), colour: '#0f766e'},
        units: {angle: -135, anchor: 'top-right', tag: pgettext('map badge', '单'), colour: '#3b5b8c'}
    };
    // The places round a circle: angle → the badge's point held on the rim.
    const BADGE_SLOTS = [
        [0, 'left'], [45, 'bottom-left'], [90, 'bottom'], [135, 'bottom-right'],
        [180, 'right'], [-135, 'top-right'], [-90, 'top'], [-45, 'top-left']
    ];
    const BADGE_TEXT_SIZE = 10.5;
    const BADGE_PAD = [8, 3];  // pixels from a badge's text to its pill's edge (fit padding and the image's own edge)
    const BADGE_GAP = 1.5;  // pixels between a badge and any circle (its own one's white edge included)
    const RING_COLOUR = '#c0182b';
    const RING_GAP = 3;  // pixels between a circle and its overdue ring
    const PIXEL_RATIO = Math.max(1, Math.round(window.devicePixelRatio || 1));
    const EMPTY = {type: 'FeatureCollection', features: []};
    const CLUSTER_LAYERS = ['cluster-anchors', 'cluster-rings', 'cluster-counts', 'cluster-badges'];

    // A circle grows with the logarithm of its count: 9 px for one, 22 px for a thousand, 32 at most.
    const clusterRadius = (count) => Math.min(32, 9 + 4.3 * Math.log10(Math.max(count, 1)));

    function anchorColour(layer, p) {
        if (layer === 'equipment') {
            return palette.kinds[p.kind] || palette.otherKind;
        }
        if (layer === 'resources') {
            return palette.resources[p.type] || CLUSTER_COLOURS.resources;
        }
        return CLUSTER_COLOURS[layer];
    }

    // The cluster cell of a point at a tile zoom, by the tile server's formulas (world coordinates).
    function cellOf(lon, lat, zoom) {
        const side = 2 ** (zoom + CELL_BITS);
        const u = (lon + 180) / 360;
        const v = (1 - Math.atanh(Math.sin(lat * Math.PI / 180)) / Math.PI) / 2;
        return `${Math.floor(u * side)}/${Math.floor(v * side)}`;
    }

    // The corners of a cell on screen (pixels): [[left, top], [right, bottom]].
    function cellBox(key, zoom) {
        const side = 2 ** (zoom + CELL_BITS);
        const [gx, gy] = key.split('/').map(Number);
        const lon = (u) => u / side * 360 - 180;
        const lat = (v) => Math.atan(Math.sinh(Math.PI * (1 - 2 * v / side))) * 180 / Math.PI;
        const a = map.project([lon(gx), lat(gy)]);
        const b = map.project([lon(gx + 1), lat(gy + 1)]);
        return [[a.x, a.y], [b.x, b.y]];
    }

    // Circles of neighbouring cells whose means lie near their shared edge would cover each other's
    // counts: push such pairs apart, each kept inside its own cell. A cell is at least twice the
    // largest radius across, so there is always room.
    function separate(anchors, zoom) {
        const byKey = new Map(anchors.map((a) => [a.key, a]));
        anchors.forEach((a) => {
            const point = map.project(a.at);
            [a.x, a.y] = [point.x, point.y];
            a.box = cellBox(a.key, zoom);
            [a.gx, a.gy] = a.key.split('/').map(Number);
        });
        const clamp = (a) => {
            a.x = Math.min(Math.max(a.x, a.box[0][0]), a.box[1][0]);
            a.y = Math.min(Math.max(a.y, a.box[0][1]), a.box[1][1]);
        };
        for (let round = 0; round < 8; round++) {
            let moved = false;
            anchors.forEach((a) => {
                [[1, -1], [1, 0], [1, 1], [0, 1]].forEach(([dx, dy]) => {
                    const b = byKey.get(`${a.gx + dx}/${a.gy + dy}`);
                    if (!b) {
                        return;
                    }
                    const need = a.radius + b.radius + 2;
                    let [ux, uy] = [b.x - a.x, b.y - a.y];
                    const distance = Math.hypot(ux, uy);
                    if (distance >= need) {
                        return;
                    }
                    [ux, uy] = distance > 0.01 ? [ux / distance, uy / distance] : [dx / Math.hypot(dx, dy), dy / Math.hypot(dx, dy)];
                    const push = (need - distance) / 2;
                    a.x -= ux * push;
                    a.y -= uy * push;
                    b.x += ux * push;
                    b.y += uy * push;
                    clamp(a);
                    clamp(b);
                    moved = true;
                });
            });
            if (!moved) {
                break;
            }
        }
        // Rounded (about 0.1 m): the same view gives the same glyphs, which are then not sent again.
        const round = (v) => Math.round(v * 1e6) / 1e6;
        anchors.forEach((a) => {
            const at = map.unproject([a.x, a.y]);
            a.at = [round(at.lng), round(at.lat)];
        });
    }

    function gatherCells(zoom) {
        const cells = new Map();
        LAYERS.filter(isOn).forEach((layer) => {
            const seen = new Set();
            map.querySourceFeatures(layer, {sourceLayer: layer, filter: IS_CLUSTER}).forEach((feature) => {
                // Parent tiles kept on screen while their children load hold coarser cells.
                if (feature._z !== undefined && feature._z !== zoom) {
                    return;
                }
                const [lon, lat] = feature.geometry.coordinates;
                const id = `${feature._x}/${feature._y}/${lon}/${lat}`;
                if (seen.has(id)) {
                    return;
                }
                seen.add(id);
                const key = cellOf(lon, lat, zoom);
                const cell = cells.get(key) || {};
                const found = {at: [lon, lat], count: Number(feature.properties.count) || 0, properties: feature.properties};
                // A mean on a cell's very edge can be snapped (tile units) into the next cell, which
                // may have a cluster of its own: the two merge, so no count is lost.
                const other = cell[layer];
                if (other) {
                    const larger = other.count >= found.count ? other : found;
                    found.at = larger.at;
                    found.properties = larger.properties;
                    found.count += other.count;
                }
                cell[layer] = found;
                cells.set(key, cell);
            });
        });
        return cells;
    }

    function glyphs(cells, zoom) {
        const features = [];
        const point = (at, properties) => ({type: 'Feature', geometry: {type: 'Point', coordinates: at}, properties});
        const anchors = [...cells].map(([key, cell]) => {
            const layer = ANCHOR_ORDER.find((name) => cell[name]);
            return {key, cell, layer, at: cell[layer].at, count: cell[layer].count, radius: clusterRadius(cell[layer].count)};
        });
        separate(anchors, zoom);
        const wanted = [];
        anchors.forEach((glyph) => {
            const {key, cell, layer: anchorLayer, at, count, radius} = glyph;
            const anchor = {at, count, properties: cell[anchorLayer].properties};
            const common = {cell: key, anchor: anchorLayer, kind: cell.equipment ? cell.equipment.properties.kind : null};
            ANCHOR_ORDER.filter((layer) => cell[layer]).forEach((layer) => { common[`n_${layer}`] = cell[layer].count; });
            const colour = anchorColour(anchorLayer, anchor.properties);
            const ringed = anchorLayer === 'equipment' && cell.overdue;
            // How far the glyph reaches from its centre: the circle's white edge, or its ring.
            Object.assign(glyph, {common, reach: radius + (ringed ? RING_GAP + 2 : 0.75)});
            features.push(point(anchor.at, {
                ...common, role: 'anchor', layer: anchorLayer, radius, colour, reach: glyph.reach,
                text_colour: isLight(colour) ? DARK_TEXT : '#ffffff', label: countText(anchor.count)
            }));
            if (ringed) {
                // At least a tick: a 1 % share would draw almost nothing (the badge says how many).
                const percent = Math.min(100, Math.max(3, Math.round(100 * cell.overdue.count / Math.max(anchor.count, 1))));
                features.push(point(anchor.at, {...common, role: 'ring', layer: 'overdue', icon: `ring-${Math.round(radius)}-${percent}`}));
            }
            Object.keys(BADGES).forEach((layer) => {
                if (cell[layer] && layer !== anchorLayer) {
                    wanted.push({layer, common, owner: glyph, at: anchor.at, label: `${BADGES[layer].tag}${countText(cell[layer].count)}`});
                }
            });
        });
        layoutBadges(anchors, wanted).forEach(({layer, common, at, label, slot, x, y}) => {
            features.push(point(at, {
                ...common, role: 'badge', layer, label, text_anchor: slot, offset: [x / BADGE_TEXT_SIZE, y / BADGE_TEXT_SIZE]
            }));
        });
        return {type: 'FeatureCollection', features};
    }

    // A badge's width on screen: its text as the map draws it (the same fonts), and the pill round it.
    const measureContext = document.createElement('canvas').getContext('2d');
    function badgeSize(label) {
        measureContext.font = `bold ${BADGE_TEXT_SIZE}px ${FONT_BOLD.map((f) => (f.includes(' ') ? `"${f}"` : f)).join(', ')}`;
        return [Math.ceil(measureContext.measureText(label).width) + 2 * BADGE_PAD[0] + 2, Math.ceil(BADGE_TEXT_SIZE * 1.2) + 2 * BADGE_PAD[1] + 2];
    }

    // The place of every badge, in screen pixels from its circle's centre: the most important badges
    // first (overdue before accidents before …), each at its own place round its circle if that is
    // free, else at the free place nearest to it; a place is free when the badge's pill touches no
    // circle and no badge placed before it. The pill's point held on the rim (a corner or an edge's
    // middle, by the slot's anchor) keeps the whole pill outside its own circle. Where no place round
    // the circle is free, a badge joins another of its circle's badges in a row or a column; where
    // that fails too, it is left out (its count is in the cell's tooltip).
    function layoutBadges(anchors, wanted) {
        const circles = anchors.map((a) => ({x: a.x, y: a.y, r: a.reach}));
        const placed = [];
        const meet = (a, b) => a[0] < b[2] + 1 && b[0] < a[2] + 1 && a[1] < b[3] + 1 && b[1] < a[3] + 1;
        // Only what lies near a badge's circle can be in its way (a national view has hundreds of cells).
        let near = {circles, placed};
        const around = (owner, w, h) => {
            const reach = owner.reach + BADGE_GAP + Object.keys(BADGES).length * (w + h);
            const box = [owner.x - reach, owner.y - reach, owner.x + reach, owner.y + reach];
            near = {
                circles: circles.filter((c) => meet(box, [c.x - c.r, c.y - c.r, c.x + c.r, c.y + c.r])),
                placed: placed.filter((b) => meet(box, b))
            };
        };
        const hits = (box) => near.placed.some((b) => meet(box, b))
            || near.circles.some((c) => {
                const nx = Math.min(Math.max(c.x, box[0]), box[2]);
                const ny = Math.min(Math.max(c.y, box[1]), box[3]);
                return (nx - c.x) ** 2 + (ny - c.y) ** 2 < (c.r + BADGE_GAP) ** 2;
            });
        // A place on the map's canvas is better than one off its edge (which only the tooltip shows).
        const canvas = map.getCanvas();
        const onCanvas = (box) => box[0] >= 0 && box[1] >= 0 && box[2] <= canvas.clientWidth && box[3] <= canvas.clientHeight;
        const order = Object.keys(BADGES);
        const result = [];
        wanted.slice().sort((a, b) => order.indexOf(a.layer) - order.indexOf(b.layer)).forEach((badge) => {
            const owner = badge.owner;
            const [w, h] = badgeSize(badge.label);
            around(owner, w, h);
            const own = BADGES[badge.layer].angle;
            const turn = (angle) => Math.abs((((angle - own) % 360) + 540) % 360 - 180);
            const slots = BADGE_SLOTS.slice().sort((a, b) => turn(a[0]) - turn(b[0]));
            const free = [];
            slots.forEach(([angle, slot]) => {
                const radians = angle * Math.PI / 180;
                // The held point, just off the rim; then the pill's box and its text's anchor point.
                const px = Math.cos(radians) * (owner.reach + BADGE_GAP + 0.5);
                const py = -Math.sin(radians) * (owner.reach + BADGE_GAP + 0.5);
                const sx = slot.endsWith('left') ? 1 : slot.endsWith('right') ? -1 : 0;
                const sy = slot.startsWith('top') ? 1 : slot.startsWith('bottom') ? -1 : 0;
                const left = px + (sx === 1 ? 0 : sx === -1 ? -w : -w / 2);
                const top = py + (sy === 1 ? 0 : sy === -1 ? -h : -h / 2);
                const box = [owner.x + left, owner.y + top, owner.x + left + w, owner.y + top + h];
                if (!hits(box)) {
                    free.push({box, slot, x: px + sx * BADGE_PAD[0], y: py + sy * BADGE_PAD[1]});
                }
            });
            // No room round the circle: in a row or column with a badge of the same circle.
            (owner.badgeBoxes || []).forEach((b) => {
                [[b[2] + 2, b[1]], [b[0], b[3] + 2], [b[0], b[1] - 2 - h], [b[0] - 2 - w, b[1]]].forEach(([x, y]) => {
                    const box = [x, y, x + w, y + h];
                    if (!hits(box)) {
                        free.push({box, slot: 'top-left', x: x - owner.x + BADGE_PAD[0], y: y - owner.y + BADGE_PAD[1]});
                    }
                });
            });
            const best = free.find((place) => onCanvas(place.box)) || free[0];
            if (best) {
                placed.push(best.box);
                owner.badgeBoxes = (owner.badgeBoxes || []).concat([best.box]);
                result.push({...badge, slot: best.slot, x: best.x, y: best.y});
            }
        });
        return result;
    }

    let composeTimer = null;
    function scheduleClusters() {
        clearTimeout(composeTimer);
        composeTimer = setTimeout(composeClusters, 30);
    }

    function composeClusters() {
        const source = map.getSource('clusters');
        if (!source) {
            return;
        }
        const zoom = map.getZoom();
        let data = EMPTY;
        if (zoom < DETAIL_ZOOM) {
            // Wait for every tile: a half-loaded view would draw a cell without some of its layers.
            if (!LAYERS.filter(isOn).every((layer) => map.isSourceLoaded(layer))) {
                return;
            }
            data = glyphs(gatherCells(Math.floor(zoom)), Math.floor(zoom));
        }
        // Unchanged glyphs are not sent again (the map would redraw them, and go idle once more).
        const signature = data.features.map((f) => `${f.properties.role}:${f.properties.cell}:${f.properties.layer}:${f.properties.label || f.properties.icon}:${f.geometry.coordinates}`).join('|');
        if (signature !== state.clusterSignature) {
            state.clusterSignature = signature;
            source.setData(data);
        }
    }

    function canvasImage(width, height, draw) {
        const canvas = document.createElement('canvas');
        canvas.width = Math.ceil(width * PIXEL_RATIO);
        canvas.height = Math.ceil(height * PIXEL_RATIO);
        const context = canvas.getContext('2d');
        context.scale(PIXEL_RATIO, PIXEL_RATIO);
        draw(context);
        return {width: canvas.width, height: canvas.height, data: context.getImageData(0, 0, canvas.width, canvas.height).data};
    }

    // "ring-<radius>-<percent>": a faint full ring with the overdue share as a solid arc from twelve
    // o'clock, anticlockwise: away from the overdue badge, which sits at half past one.
    function ringImage(radius, percent) {
        const ring = radius + RING_GAP;
        const size = 2 * (ring + 3);
        return canvasImage(size, size, (context) => {
            const centre = size / 2;
            context.strokeStyle = 'rgba(192, 24, 43, 0.35)';
            context.lineWidth = 1.5;
            context.beginPath();
            context.arc(centre, centre, ring, 0, 2 * Math.PI);
            context.stroke();
            context.strokeStyle = RING_COLOUR;
            context.lineWidth = 3.5;
            context.lineCap = 'butt';
            context.beginPath();
            context.arc(centre, centre, ring, -Math.PI / 2, -Math.PI / 2 - 2 * Math.PI * percent / 100, true);
            context.stroke();
        });
    }

    // A pill that stretches round its text (icon-text-fit), white-edged so it stands off a circle.
    function addBadgeImages() {
        const [w, h, r] = [20, 16, 7];
        Object.entries(BADGES).forEach(([layer, badge]) => {
            const image = canvasImage(w, h, (context) => {
                context.fillStyle = '#ffffff';
                context.beginPath();
                context.roundRect(0, 0, w, h, r + 1);
                context.fill();
                context.fillStyle = badge.colour;
                context.beginPath();
                context.roundRect(1.25, 1.25, w - 2.5, h - 2.5, r);
                context.fill();
            });
            const at = (v) => v * PIXEL_RATIO;
            map.addImage(`badge-${layer}`, image, {
                pixelRatio: PIXEL_RATIO,
                stretchX: [[at(r + 1), at(w - r - 1)]],
                stretchY: [[at(r), at(h - r)]],
                content: [at(4), at(2), at(w - 4), at(h - 2)]
            });
        });
    }

    function addClusterLayers() {
        addBadgeImages();
        map.on('styleimagemissing', (event) => {
            const ring = /^ring-(\d+)-(\d+)$/.exec(event.id);
            if (ring && !map.hasImage(event.id)) {
                map.addImage(event.id, ringImage(Number(ring[1]), Number(ring[2])), {pixelRatio: PIXEL_RATIO});
            }
        });
        map.addSource('clusters', {type: 'geojson', data: EMPTY});
        const role = (name) => ['==', ['get', 'role'], name];
        const always = {'text-allow-overlap': true, 'text-ignore-placement': true, 'icon-allow-overlap': true, 'icon-ignore-placement': true};
        map.addLayer({
            id: 'cluster-anchors', type: 'circle', source: 'clusters', filter: role('anchor'),
            paint: {
                'circle-color': ['get', 'colour'], 'circle-radius': ['get', 'radius'], 'circle-opacity': 0.88,
                'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5
            }
        });
        map.addLayer({
            id: 'cluster-rings', type: 'symbol', source: 'clusters', filter: role('ring'),
            layout: {'icon-image': ['get', 'icon'], ...always}
        });
        // Circles and badges are always drawn, where the composer put them; they are also entered in
        // the map's collision index (placed first, being above the names), so that the region names
        // take a place beside them (labelLayers) rather than under them. A circle enters as a blank
        // square as wide as it reaches.
        const blocking = {...always, 'icon-ignore-placement': false, 'text-ignore-placement': false, 'icon-padding': 0, 'text-padding': 0};
        map.addImage('glyph-space', {width: 64, height: 64, data: new Uint8Array(64 * 64 * 4)});
        map.addLayer({
            id: 'cluster-counts', type: 'symbol', source: 'clusters', filter: role('anchor'),
            layout: {
                'text-field': ['get', 'label'], 'text-font': FONT_BOLD, 'text-size': 11, ...always,
                'icon-image': 'glyph-space', 'icon-size': ['/', ['*', 2, ['get', 'reach']], 64], 'icon-ignore-placement': false, 'icon-padding': 0
            },
            paint: {'text-color': ['get', 'text_colour']}
        });
        map.addLayer({
            id: 'cluster-badges', type: 'symbol', source: 'clusters', filter: role('badge'),
            layout: {
                'icon-image': ['concat', 'badge-', ['get', 'layer']], 'icon-text-fit': 'both', 'icon-text-fit-padding': [1, 4, 1, 4],
                'text-field': ['get', 'label'], 'text-font': FONT_BOLD, 'text-size': BADGE_TEXT_SIZE,
                'text-offset': ['array', 'number', 2, ['get', 'offset']], 'text-anchor': ['get', 'text_anchor'], ...blocking
            },
            paint: {'text-color': '#ffffff'}
        });
        map.on('sourcedata', (event) => {
            if (state.available.has(event.sourceId) && event.isSourceLoaded) {
                scheduleClusters();
            }
        });
        map.on('moveend', scheduleClusters);
        map.on('idle', scheduleClusters);
    }

    // What a cell holds, for the tooltip.
    function cellSummary(p) {
        const parts = ANCHOR_ORDER.filter((layer) => p[`n_${layer}`] !== undefined && p[`n_${layer}`] !== null).map((layer) => {
            const n = Number(p[`n_${layer}`]);
            let text = `${TITLES[layer]} ${NUMBER.format(n)}`;
            if (layer === 'equipment' && p.kind && KIND_NAMES[p.kind]) {
                text += ` (${interpolate(gettext('主要为%(kind)s'), {kind: KIND_NAMES[p.kind]}, true)})`;
            }
            if (layer === 'overdue' && p.n_equipment) {
                text += ` (${(100 * n / Number(p.n_equipment)).toFixed(1)} %)`;
            }
            return text;
        });
        return `${parts.join('\n')}\n${gettext('点击放大')}`;
    }

    // ------------------------------------------------------------------ legends

    function swatch(colour, label, extra, opacity) {
        const style = `background:${colour}` + (opacity !== undefined ? `;opacity:${opacity}` : '');
        return el('span', {}, [el('i', {style, class: extra || null}), label]);
    }

    const note = (text) => el('span', {class: 'note', text});
    // A cluster badge as the map draws it, with an example count.
    const badgeSwatch = (layer, label) => el('span', {}, [
        el('b', {class: 'badge', style: `background:${BADGES[layer].colour}`, text: `${BADGES[layer].tag}12`}), label
    ]);
    const BADGE_NOTE = gettext('缩小时为聚合圆上的角标');

    // Legend rows: the catalogue's items where it has them, else ours with the page's labels.
    function legendItems(layer, fallback) {
        const legend = palette.legends[layer];
        const items = legend && Array.isArray(legend.items) ? legend.items : null;
        return items ? items.filter((i) => i.colour).map((i) => [i.colour, i.label || i.value, i.value]) : fallback();
    }

    function renderLegends() {
        const labelled = (colours, labels) => () => Object.entries(colours).map(([v, c]) => [c, labels[v] || v, v]);
        const kindLabels = KIND_NAMES;
        const legends = {
            equipment: [
                ...legendItems('equipment', labelled(palette.kinds, kindLabels))
                    .filter(([, , code]) => kindLabels[code])  // kinds a device can have (no 7000, F000)
                    .map(([c, label]) => swatch(c, label)),
                swatch(palette.kinds['8000'] || palette.otherKind, gettext('管道（线）'), 'line'),
                ...Object.entries(palette.statusOpacity).filter(([status]) => status !== 'in_use')
                    .map(([status, opacity]) => swatch('#5b6b7c', STATUS_LABELS[status] || status, null, opacity)),
                note(gettext('缩小时按网格聚合：圆内为数量，颜色为主要种类，点击放大'))
            ],
            overdue: [
                ...legendItems('overdue', () => [[palette.overdueNoDate, gettext('无下次检验日期')],
                    ...palette.overdueSteps.map(([limit, c]) => [c, interpolate(gettext('≤ %(n)s 天'), {n: limit}, true)])]).map(([c, label]) => swatch(c, label)),
                el('span', {}, [el('i', {class: 'ring'}), gettext('聚合圆外的红弧：逾期占比')]),
                badgeSwatch('overdue', gettext('逾期数量')),
                note(BADGE_NOTE)
            ],
            units: [
                ...legendItems('units', labelled(palette.roles, ROLE_LABELS)).map(([c, label]) => swatch(c, label)),
                note(gettext('多角色单位按最少见的角色着色')),
                badgeSwatch('units', gettext('单位数量')),
                note(BADGE_NOTE)
            ],
            accidents: [
                ...legendItems('accidents', labelled(palette.severity, SEVERITY_LABELS)).map(([c, label]) => swatch(c, label)),
                note(gettext('圆越大死亡人数越多')),
                badgeSwatch('accidents', gettext('事故数量')),
                note(BADGE_NOTE)
            ],
            resources: [
                ...legendItems('resources', labelled(palette.resources, RESOURCE_LABELS)).map(([c, label]) => swatch(c, label)),
                badgeSwatch('resources', gettext('应急资源数量')),
                note(BADGE_NOTE)
            ],
            stations: [
                ...legendItems('stations', () => [[palette.stations.clean, gettext('无违规')],
                    [palette.stations.violations, gettext('有违规')]]).map(([c, label]) => swatch(c, label)),
                badgeSwatch('stations', gettext('充装站数量')),
                note(BADGE_NOTE)
            ],
            licences: [
                ...legendItems('licences', labelled(palette.licences, {})).map(([c, label]) => swatch(c, label)),
                badgeSwatch('licences', gettext('许可证数量')),
                note(BADGE_NOTE)
            ],
            unlicensed: [
                swatch(CLUSTER_COLOURS.unlicensed, gettext('无有效许可的单位制造或安装')),
                badgeSwatch('unlicensed', gettext('设备数量')),
                note(BADGE_NOTE)
            ],
            unlicensed_filling: [
                swatch(CLUSTER_COLOURS.unlicensed_filling, gettext('无有效充装许可仍充装的充装站')),
                badgeSwatch('unlicensed_filling', gettext('充装站数量')),
                note(BADGE_NOTE)
            ]
        };
        LAYERS.forEach((layer) => {
            const box = $(`[data-legend-for="${layer}"]`);
            if (box) {
                box.replaceChildren(...(legends[layer] || []));
            }
        });
    }

    // Take the catalogue's legends as the palette.
    function adoptLegends(legends) {
        const colours = (legend) => Object.fromEntries(
            ((legend && legend.items) || []).filter((i) => i.value && i.colour).map((i) => [i.value, i.colour])
        );
        palette.legends = legends;
        const equipment = legends.equipment;
        if (equipment && equipment.items) {
            Object.assign(palette.kinds, colours(equipment));
            palette.otherKind = equipment.other || palette.otherKind;
            (equipment.status || []).forEach((s) => {
                if (s.value && typeof s.opacity === 'number') {
                    palette.statusOpacity[s.value] = s.opacity;
                }
            });
        }
        const overdue = legends.overdue && legends.overdue.items;
        if (overdue && overdue.length) {
            const none = overdue.find((i) => i.max_days === null);
            const steps = overdue.filter((i) => typeof i.max_days === 'number')
                .sort((a, b) => a.max_days - b.max_days).map((i) => [i.max_days, i.colour]);
            palette.overdueNoDate = none ? none.colour : palette.overdueNoDate;
            palette.overdueSteps = steps.length ? steps : palette.overdueSteps;
        }
        Object.assign(palette.roles, colours(legends.units));
        Object.assign(palette.severity, colours(legends.accidents));
        Object.assign(palette.resources, colours(legends.resources));
        Object.assign(palette.stations, colours(legends.stations));
        Object.assign(palette.licences, colours(legends.licences));
    }

    // ------------------------------------------------------------------ the map

    const bounds = config.bounds ? [[config.bounds[0], config.bounds[1]], [config.bounds[2], config.bounds[3]]] : CHINA;
    const map = new maplibregl.Map({
        container: 'map',
        style: {
            version: 8,
            sources: {
                basemap: {type: 'geojson', data: {type: 'FeatureCollection', features: []}},
                'basemap-labels': {type: 'geojson', data: {type: 'FeatureCollection', features: []}},
                regions: {type: 'geojson', data: {type: 'FeatureCollection', features: []}, promoteId: 'code'},
                'region-values': {type: 'geojson', data: {type: 'FeatureCollection', features: []}}
            },
            layers: [
                {id: 'background', type: 'background', paint: {'background-color': '#dfe7ee'}},
                {id: 'land', type: 'fill', source: 'basemap', filter: ['==', ['get', 'outer'], true], paint: {'fill-color': '#fbf8ef'}},
                {id: 'regions-fill', type: 'fill', source: 'regions', layout: {visibility: 'none'},
                    paint: {'fill-color': '#cccccc', 'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.8, 0.6]}},
                {id: 'regions-outline', type: 'line', source: 'regions', layout: {visibility: 'none'},
                    paint: {'line-color': ['case', ['boolean', ['feature-state', 'hover'], false], '#1f2a37', '#ffffff'],
                        'line-width': ['case', ['boolean', ['feature-state', 'hover'], false], 2.2, 1]}},
                {id: 'county-lines', type: 'line', source: 'basemap', filter: ['==', ['get', 'level'], 'county'],
                    paint: {'line-color': '#a89f92', 'line-width': 0.8, 'line-dasharray': [3, 2]}},
                {id: 'city-lines', type: 'line', source: 'basemap', filter: ['==', ['get', 'level'], 'city'],
                    paint: {'line-color': '#8a7a66', 'line-width': 1.4}},
                {id: 'province-lines', type: 'line', source: 'basemap', filter: ['==', ['get', 'level'], 'province'],
                    paint: {'line-color': '#6b5a48', 'line-width': 2.2}},
                {id: 'jurisdiction-line', type: 'line', source: 'basemap', filter: ['==', ['get', 'outer'], true],
                    paint: {'line-color': '#0b4f8a', 'line-width': 2, 'line-opacity': 0.75}},
                {id: 'picked-region', type: 'line', source: 'basemap', filter: ['==', ['get', 'code'], ''],
                    paint: {'line-color': '#d9480f', 'line-width': 2.5}},
                ...labelLayers(),
                {id: 'region-values', type: 'symbol', source: 'region-values',
                    layout: {visibility: 'none', 'text-field': '', 'text-font': FONT_BOLD, 'text-size': 12.5, 'text-line-height': 1.25, 'text-padding': 2,
                        'text-variable-anchor-offset': NAME_PLACES},
                    paint: {'text-color': '#1f2a37', 'text-halo-color': 'rgba(255, 255, 255, 0.92)', 'text-halo-width': 1.6}}
            ]
        },
        bounds: bounds,
        fitBoundsOptions: {padding: 30},
        maxZoom: 18,
        attributionControl: {compact: true, customAttribution: gettext('行政区划：SEGIS')},
        transformRequest: (url) => {
            if (url.startsWith(TILES_PREFIX)) {
                return {url: url, credentials: 'same-origin', headers: passHeaders()};
            }
            return url.startsWith(ORIGIN) ? {url: url, credentials: 'same-origin'} : {url: url};
        }
    });
    map.addControl(new maplibregl.NavigationControl({visualizePitch: false}), 'top-right');
    map.addControl(new maplibregl.ScaleControl({unit: 'metric'}), 'bottom-right');
    map.dragRotate.disable();
    map.touchZoomRotate.disableRotation();
    window.segisMap = map;  // for the browser tests and the console
    // A tile refused for its pass (expired while the machine slept): renew, then reload the tiles;
    // at most once a minute, so that a pass the server keeps refusing cannot loop.
    map.on('error', (event) => {
        const status = event.error && event.error.status;
        if (status === 401 && Date.now() - mapPass.lastRetry > 60000) {
            mapPass.lastRetry = Date.now();
            renewPass().then((renewed) => renewed && refreshTiles());
        }
    });

    // Names at the label point of each region: the jurisdiction's own regions always, the finer
    // levels once there is room for them (see showLabelsFrom; MapLibre drops colliding ones). A name
    // that a cluster circle or badge would cover moves off its label point (NAME_PLACES): cities
    // stay readable at province zoom.
    function labelLayers() {
        const text = (size, font, colour) => ({
            layout: {'text-field': ['get', 'name'], 'text-font': font, 'text-size': size, 'text-padding': 4, 'text-variable-anchor-offset': NAME_PLACES},
            paint: {'text-color': colour, 'text-halo-color': 'rgba(255, 255, 255, 0.9)', 'text-halo-width': 1.5}
        });
        const inner = (level) => ['all', ['!=', ['get', 'outer'], true], ['==', ['get', 'level'], level]];
        return [
            {id: 'county-labels', type: 'symbol', source: 'basemap-labels', filter: inner('county'), minzoom: 24, ...text(11.5, FONT, '#5c5044')},
            {id: 'city-labels', type: 'symbol', source: 'basemap-labels', filter: inner('city'), minzoom: 24, ...text(12.5, FONT, '#3d3226')},
            {id: 'outer-labels', type: 'symbol', source: 'basemap-labels', filter: ['==', ['get', 'outer'], true], ...text(14, FONT_BOLD, '#3d3226')}
        ];
    }

    // The level just below the jurisdiction is named from the opening view on (a city user sees
    // its counties), the level below that two zooms closer; never closer than LABEL_FLOOR.
    const LEVELS = ['province', 'city', 'county'];
    const LABEL_FLOOR = {city: 5.5, county: 7.5};
    function showLabelsFrom(features, openingZoom) {
        const outer = features.find((f) => f.properties.outer);
        const top = outer ? LEVELS.indexOf(outer.properties.level) : 0;
        ['city', 'county'].forEach((level) => {
            const depth = LEVELS.indexOf(level) - top;
            if (depth > 0) {
                const from = Math.max(openingZoom - 0.5 + 2 * (depth - 1), LABEL_FLOOR[level]);
                map.setLayerZoomRange(`${level}-labels`, from, 24);
            }
        });
    }

    async function loadBasemap() {
        const response = await fetch(config.urls.basemap, {credentials: 'same-origin'});
        if (!response.ok) {
            throw new Error(`basemap: HTTP ${response.status}`);
        }
        const outlines = await response.json();
        const labels = {
            type: 'FeatureCollection',
            features: outlines.features.filter((f) => f.properties.label_point).map((f) => ({
                type: 'Feature',
                geometry: {type: 'Point', coordinates: f.properties.label_point},
                properties: {name: f.properties.name, level: f.properties.level, outer: f.properties.outer, code: f.properties.code}
            }))
        };
        state.outlines = outlines.features;
        showLabelsFrom(outlines.features, map.getZoom());
        map.getSource('basemap').setData(outlines);
        map.getSource('basemap-labels').setData(labels);
    }

    // ------------------------------------------------------------------ the tile catalogue

    function parseCatalogue(data) {
        let list = data && (Array.isArray(data) ? data : data.layers);
        if (list && !Array.isArray(list)) {
            list = Object.entries(list).map(([name, layer]) => ({name, ...layer}));
        }
        list = (list || []).filter((layer) => layer && layer.name);
        const accepted = {};
        const legends = {};
        list.forEach((layer) => {
            if (Array.isArray(layer.filters)) {
                accepted[layer.name] = layer.filters.map((f) => (typeof f === 'string' ? f : f.name));
            }
            if (layer.legend && typeof layer.legend === 'object') {
                legends[layer.name] = layer.legend;
            }
        });
        return {names: new Set(list.map((layer) => layer.name)), accepted, legends};
    }

    async function loadCatalogue() {
        if (!config.tiles_installed) {
            return null;
        }
        const response = await fetch(config.urls.catalogue, {credentials: 'same-origin'});
        if (!response.ok) {
            return null;
        }
        return parseCatalogue(await response.json());
    }

    function showNotice(text) {
        const notice = $('#tiles-notice');
        notice.textContent = text;
        notice.hidden = !text;
    }

    function addOverlays() {
        LAYERS.forEach((layer) => {
            if (!state.available.has(layer)) {
                return;
            }
            map.addSource(layer, {type: 'vector', tiles: [tileUrl(layer)], minzoom: 0, maxzoom: 16});
            styleLayers(layer).forEach((style) => map.addLayer(style));
        });
        addClusterLayers();
        applyToggles();
    }

    function refreshTiles() {
        state.available.forEach((layer) => {
            const source = map.getSource(layer);
            if (source && source.setTiles) {
                source.setTiles([tileUrl(layer)]);
            }
        });
        scheduleCounts();
        loadChoropleth();
    }

    // ------------------------------------------------------------------ toggles and counts

    function isOn(layer) {
        const box = $(`input[name="layer"][value="${layer}"]`);
        return Boolean(box && box.checked && state.available.has(layer));
    }

    function applyToggles() {
        LAYERS.forEach((layer) => {
            const row = $(`.layer[data-layer="${layer}"]`);
            const on = isOn(layer);
            row.classList.toggle('off', !on);
            if (!state.available.has(layer)) {
                return;
            }
            styleLayers(layer).forEach(({id}) => {
                let visible = on;
                if (id === 'accidents-heat') {
                    visible = on && $('#accident-heat').checked;
                }
                map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
            });
        });
        scheduleCounts();
        scheduleClusters();
    }

    function viewBbox() {
        const b = map.getBounds();
        const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
        return [
            clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -85.05, 85.05),
            clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -85.05, 85.05)
        ].map((v) => v.toFixed(5)).join(',');
    }

    let countTimer = null;
    function scheduleCounts() {
        clearTimeout(countTimer);
        countTimer = setTimeout(updateCounts, 250);
    }

    async function updateCounts() {
        if (state.countAbort) {
            state.countAbort.abort();
        }
        const abort = new AbortController();
        state.countAbort = abort;
        const bbox = viewBbox();
        await Promise.all(LAYERS.map(async (layer) => {
            const output = $(`[data-count-for="${layer}"]`);
            if (!isOn(layer)) {
                output.textContent = '';
                return;
            }
            const query = layerQuery(layer);
            const url = `${config.urls.tiles}${layer}/count?${query ? query + '&' : ''}bbox=${bbox}`;
            try {
                const response = await fetchWithPass(url, {signal: abort.signal});
                const body = await response.json();
                if (!response.ok) {
                    output.textContent = '—';
                    output.title = errorMessages(body).join('; ');
                    return;
                }
                output.textContent = NUMBER.format(body.count);
                output.title = gettext('当前视野内');
                output.classList.toggle('alert', (layer === 'overdue' || layer === 'accidents') && body.count > 0);
            } catch (error) {
                if (error.name !== 'AbortError') {
                    output.textContent = '—';
                }
            }
        }));
    }

    // ------------------------------------------------------------------ popups

    function facts(rows) {
        const dl = el('dl');
        rows.filter(([, value]) => value !== undefined && value !== null && value !== '').forEach(([term, value, cls]) => {
            dl.append(el('dt', {text: term}), el('dd', {text: String(value), class: cls || null}));
        });
        return dl;
    }

    function splitRoles(roles) {
        if (Array.isArray(roles)) {
            return roles;
        }
        return String(roles || '').replace(/[[\]{}"']/g, '').split(/[,\s]+/).filter(Boolean);
    }

    function formatTime(value) {
        const date = new Date(value);
        return Number.isNaN(date.getTime()) ? value : date.toLocaleString('zh-CN', {hour12: false});
    }

    function popupContent(layer, p, id) {
        let title;
        let subtitle;
        let rows;
        if (layer === 'equipment' || layer === 'overdue' || layer === 'unlicensed') {
            title = p.code || `#${id}`;
            subtitle = {overdue: gettext('逾期未检设备'), unlicensed: gettext('无证制造或安装')}[layer] || gettext('设备');
            rows = [
                [gettext('种类'), KIND_NAMES[p.kind] || p.kind],
                [gettext('品种'), p.variety ? `${p.variety} ${VARIETY_NAMES[p.variety] || ''}`.trim() : null],
                [gettext('状态'), STATUS_LABELS[p.status] || p.status],
                [gettext('逾期'), p.days_overdue !== undefined ? interpolate(ngettext('%(n)s 天', '%(n)s 天', p.days_overdue), {n: NUMBER.format(p.days_overdue)}, true) : null, 'alert']
            ];
        } else if (layer === 'units') {
            title = p.name || `#${id}`;
            subtitle = gettext('单位');
            rows = [[gettext('角色'), splitRoles(p.roles).map((r) => ROLE_LABELS[r] || r).join(gettext('；'))]];
        } else if (layer === 'accidents') {
            title = SEVERITY_LABELS[p.severity] || pgettext('singular', '事故');
            subtitle = pgettext('singular', '事故');
            rows = [
                [gettext('时间'), p.occurred_at ? formatTime(p.occurred_at) : null],
                [gettext('死亡'), p.deaths, Number(p.deaths) > 0 ? 'alert' : null]
            ];
        } else if (layer === 'licences') {
            title = p.number || `#${id}`;
            subtitle = gettext('许可证');
            const legend = palette.legends.licences || {};
            const validity = (legend.items || []).find((i) => i.value === p.validity);
            const kind = (legend.kind || []).find((i) => i.value === p.licence_kind);
            rows = [
                [gettext('持证单位'), p.unit],
                [gettext('类别'), kind ? kind.label : p.licence_kind],
                [gettext('有效性'), validity ? validity.label : p.validity, p.validity === 'valid' ? null : 'alert']
            ];
        } else if (layer === 'stations' || layer === 'unlicensed_filling') {
            title = p.name || `#${id}`;
            subtitle = layer === 'stations' ? gettext('气瓶充装站') : gettext('无证充装');
            rows = [
                [gettext('产权气瓶'), p.cylinders],
                [gettext('超期未检'), p.overdue, Number(p.overdue) > 0 ? 'alert' : null],
                [gettext('近 30 天充装'), p.fillings],
                [gettext('违规'), p.violations, Number(p.violations) > 0 ? 'alert' : null]
            ];
        } else {
            title = p.name || `#${id}`;
            subtitle = gettext('应急资源');
            rows = [[gettext('类型'), RESOURCE_LABELS[p.type] || p.type]];
        }
        const box = el('div', {class: 'segis-popup', 'data-layer': layer}, [
            el('h3', {text: title}, [el('small', {text: subtitle})]),
            facts(rows)
        ]);
        if (id !== undefined && id !== null && DETAIL_URLS[layer]) {
            box.append(el('a', {class: 'detail', href: DETAIL_URLS[layer].replace('{id}', encodeURIComponent(id)), text: gettext('查看详情')}));
        }
        return box;
    }

    function layerOf(styleLayerId) {
        return LAYERS.find((layer) => styleLayerId === `${layer}-points` || styleLayerId === `${layer}-lines`);
    }

    const isGlyph = (feature) => feature.source === 'clusters';

    function interactiveLayers() {
        return LAYERS.filter(isOn).flatMap(INTERACTIVE).concat(CLUSTER_LAYERS).filter((id) => map.getLayer(id));
    }

    const popup = new maplibregl.Popup({maxWidth: '320px', focusAfterOpen: false});

    function onClick(event) {
        const layers = interactiveLayers();
        const pad = 4;
        const box = [[event.point.x - pad, event.point.y - pad], [event.point.x + pad, event.point.y + pad]];
        const features = layers.length ? map.queryRenderedFeatures(box, {layers}) : [];
        // The topmost feature, preferring individual records over clusters.
        const feature = features.find((f) => !isGlyph(f)) || features[0];
        if (!feature) {
            const region = choroplethAt(event.point);
            if (region) {
                popup.setLngLat(event.lngLat).setDOMContent(regionPopup(region.properties)).addTo(map);
            }
            return;
        }
        if (isGlyph(feature)) {
            map.easeTo({center: feature.geometry.coordinates, zoom: Math.min(map.getZoom() + 2, DETAIL_ZOOM)});
            return;
        }
        const layer = layerOf(feature.layer.id);
        const id = feature.properties.id !== undefined ? feature.properties.id : feature.id;
        const at = feature.geometry.type === 'Point' ? feature.geometry.coordinates : event.lngLat;
        popup.setLngLat(at).setDOMContent(popupContent(layer, feature.properties, id)).addTo(map);
    }

    const tooltip = new maplibregl.Popup({closeButton: false, closeOnClick: false, className: 'segis-tooltip', offset: 12});

    function onHover(event) {
        const layers = interactiveLayers();
        const features = layers.length ? map.queryRenderedFeatures(event.point, {layers}) : [];
        const glyph = features.find(isGlyph);
        const region = features.length ? null : choroplethAt(event.point);
        hoverRegion(region);
        map.getCanvas().style.cursor = features.length || region ? 'pointer' : '';
        if (glyph && !features.some((f) => !isGlyph(f))) {
            tooltip.setLngLat(event.lngLat).setText(cellSummary(glyph.properties)).addTo(map);
        } else if (region) {
            tooltip.setLngLat(event.lngLat).setText(regionSummary(region.properties)).addTo(map);
        } else {
            tooltip.remove();
        }
        // Where am I: the region under the cursor, in the status line.
        const regions = map.queryRenderedFeatures(event.point, {layers: ['land']});
        const status = $('#map-status');
        status.textContent = regions.length ? `${regions[0].properties.name} ${regions[0].properties.code} · z${map.getZoom().toFixed(1)}` : '';
    }

    // ------------------------------------------------------------------ region choropleth

    // The sub-regions of the jurisdiction (or of the region filter) filled by a metric the user
    // picks, from /map/regions.geojson (maps/choropleth.py) under the same filters as the tiles.
    // The server classes the values and names each class's colour: legend and fill always agree.
    const choropleth = {body: null, abort: null, hovered: null};
    const CHOROPLETH_LAYERS = ['regions-fill', 'regions-outline', 'region-values'];
    // The accident layer's time filters under the names the endpoint gives them.
    const ACCIDENT_PARAMS = {window: 'window', from: 'accident_from', to: 'accident_to'};

    const choroplethOn = () => $('#choropleth-toggle').checked;
    const metric = () => $('#choropleth-metric').value;
    const formatRate = (rate) => (rate === null || rate === undefined ? '—' : rate === 0 ? '0 %' : `${(100 * rate).toFixed(rate < 0.001 ? 2 : 1)} %`);
    const formatPer10k = (rate) => (rate === null || rate === undefined ? '—' : rate === 0 ? '0' : rate.toFixed(rate >= 100 ? 0 : 2));
    const VALUE_TEXT = {
        devices: (p) => NUMBER.format(p.devices),
        overdue_rate: (p) => formatRate(p.overdue_rate),
        accident_rate: (p) => formatPer10k(p.accident_rate)
    };

    function choroplethQuery() {
        const params = new URLSearchParams(layerQuery('equipment'));
        new URLSearchParams(layerQuery('accidents')).forEach((value, name) => {
            if (ACCIDENT_PARAMS[name]) {
                params.set(ACCIDENT_PARAMS[name], value);
            }
        });
        return params.toString();
    }

    function showChoropleth() {
        if (!map.getLayer('regions-fill')) {
            return;  // before the style is there; the load handler calls again
        }
        const on = choroplethOn();
        $('#choropleth').classList.toggle('off', !on);
        CHOROPLETH_LAYERS.forEach((id) => map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none'));
        // The values name their regions: a region's plain name keeps to its label point then, where
        // the value is and so gives way to it, instead of stepping aside and showing twice.
        ['county-labels', 'city-labels', 'outer-labels'].forEach((id) => map.setLayoutProperty(
            id, 'text-variable-anchor-offset', on ? ['literal', ['center', [0, 0]]] : NAME_PLACES));
        if (!on) {
            $('[data-count-for="regions"]').textContent = '';
            $('#layers').classList.remove('accident-window-wanted');
            hoverRegion(null);
            return;
        }
        loadChoropleth();
    }

    async function loadChoropleth() {
        if (!choroplethOn()) {
            return;
        }
        if (choropleth.abort) {
            choropleth.abort.abort();
        }
        const abort = new AbortController();
        choropleth.abort = abort;
        const query = choroplethQuery();
        const legend = $('[data-legend-for="regions"]');
        try {
            const response = await fetch(`${config.urls.regions}${query ? '?' + query : ''}`, {credentials: 'same-origin', signal: abort.signal});
            const body = await response.json();
            if (!response.ok) {
                legend.replaceChildren(note(interpolate(gettext('无法统计：%(why)s'), {why: errorMessages(body).join('; ')}, true)));
                return;
            }
            choropleth.body = body;
            map.getSource('regions').setData(body);
            map.getSource('region-values').setData({
                type: 'FeatureCollection',
                features: body.features.filter((f) => f.properties.label_point).map((f) => ({
                    type: 'Feature',
                    geometry: {type: 'Point', coordinates: f.properties.label_point},
                    properties: {
                        name: f.properties.name,
                        ...Object.fromEntries(Object.entries(VALUE_TEXT).map(([name, text]) => [`label_${name}`, text(f.properties)]))
                    }
                }))
            });
            paintChoropleth();
            document.body.dataset.choropleth = choroplethQuery();
        } catch (error) {
            if (error.name !== 'AbortError') {
                legend.replaceChildren(note(gettext('区划统计加载失败')));
            }
        }
    }

    function paintChoropleth() {
        if (!map.getLayer('regions-fill')) {
            return;
        }
        const name = metric();
        // Accidents per 10,000 devices count the accident layer's window: its control stays in
        // reach while that layer is off.
        $('#layers').classList.toggle('accident-window-wanted', choroplethOn() && name === 'accident_rate');
        map.setPaintProperty('regions-fill', 'fill-color', ['coalesce', ['get', `fill_${name}`], '#cccccc']);
        // Name and figure in one label, at the point the base map names the region: it takes the
        // place of the plain name (same point, drawn above it, so the name alone gives way).
        map.setLayoutProperty('region-values', 'text-field', ['format',
            ['get', 'name'], {}, '\n', {},
            ['get', `label_${name}`], {'font-scale': 0.92, 'text-color': '#0b3a66'}]);
        const body = choropleth.body;
        if (!body) {
            return;
        }
        const spec = body.metrics.find((m) => m.name === name);
        const legend = $('[data-legend-for="regions"]');
        const rows = [
            el('span', {class: 'legend-title', text: spec.title}),
            ...spec.legend.map((item) => swatch(item.colour, item.label, 'square')),
            note(spec.note)
        ];
        if (name === 'accident_rate') {
            rows.push(note(interpolate(gettext('事故时间范围（见“事故”图层）：%(w)s'), {w: body.accident_window}, true)));
        }
        if (body.unplaced.devices || body.unplaced.accidents) {
            rows.push(note(interpolate(gettext('另有 %(d)s 台设备、%(a)s 起事故所在区划无边界'), {d: NUMBER.format(body.unplaced.devices), a: NUMBER.format(body.unplaced.accidents)}, true)));
        }
        legend.replaceChildren(...rows);
        const output = $('[data-count-for="regions"]');
        output.textContent = VALUE_TEXT[name](body.totals);
        output.title = gettext('辖区合计');
    }

    function choroplethAt(point) {
        if (!choroplethOn() || !map.getLayer('regions-fill')) {
            return null;
        }
        return map.queryRenderedFeatures(point, {layers: ['regions-fill']})[0] || null;
    }

    function hoverRegion(feature) {
        const code = feature ? feature.properties.code : null;
        if (choropleth.hovered === code) {
            return;
        }
        if (choropleth.hovered) {
            map.setFeatureState({source: 'regions', id: choropleth.hovered}, {hover: false});
        }
        choropleth.hovered = code;
        if (code) {
            map.setFeatureState({source: 'regions', id: code}, {hover: true});
        }
    }

    function regionFacts(p) {
        const span = choropleth.body ? choropleth.body.accident_window : '';
        return [
            [pgettext('count', '设备'), NUMBER.format(p.devices)],
            [gettext('逾期率'), interpolate(gettext('%(value)s（%(detail)s）'), {value: formatRate(p.overdue_rate), detail: `${NUMBER.format(p.overdue)} / ${NUMBER.format(p.in_use)}`}, true), p.overdue > 0 ? 'alert' : null],
            [gettext('事故'), interpolate(gettext('%(value)s（%(detail)s）'), {value: NUMBER.format(p.accidents), detail: span}, true)],
            [gettext('每万台事故'), formatPer10k(p.accident_rate)]
        ];
    }

    function regionSummary(p) {
        return [
            p.name,
            `${pgettext('count', '设备')} ${NUMBER.format(p.devices)}`,
            `${gettext('逾期率')} ${formatRate(p.overdue_rate)}`,
            `${gettext('每万台事故')} ${formatPer10k(p.accident_rate)}`
        ].join('\n');
    }

    function regionPopup(p) {
        const box = el('div', {class: 'segis-popup', 'data-layer': 'regions'}, [
            el('h3', {text: p.name}, [el('small', {text: `${p.code} · ${gettext('区划统计')}`})]),
            facts(regionFacts(p))
        ]);
        const select = $('#filter-form').elements.region;
        const offered = [...select.options].some((option) => option.value === p.prefix);
        if (offered && select.value !== p.prefix) {
            const button = el('button', {type: 'button', class: 'link detail', text: gettext('只看此区划')});
            button.addEventListener('click', () => {
                popup.remove();
                select.value = p.prefix;
                select.dispatchEvent(new Event('change', {bubbles: true}));
            });
            box.append(button);
        }
        return box;
    }

    // ------------------------------------------------------------------ search

    function featuresOf(body) {
        if (!body) {
            return [];
        }
        const results = body.results !== undefined ? body.results : body;
        if (Array.isArray(results)) {
            return results;
        }
        return (results && results.features) || [];
    }

    function showMarker(coordinates, content) {
        if (state.marker) {
            state.marker.remove();
        }
        popup.remove();
        // The marker's own popup opens above the pin, not over it.
        const found = new maplibregl.Popup({maxWidth: '320px', focusAfterOpen: false}).setDOMContent(content);
        state.marker = new maplibregl.Marker({color: '#d9480f'}).setLngLat(coordinates).setPopup(found).addTo(map);
        state.marker.togglePopup();
    }

    function firstPosition(coordinates) {
        let position = coordinates;
        while (Array.isArray(position) && Array.isArray(position[0])) {
            position = position[0];
        }
        return position;
    }

    function goTo(result) {
        const geometry = result.feature.geometry;
        const content = result.content();
        if (!geometry) {
            popup.remove();
            alertResult(content);
            return;
        }
        const coordinates = firstPosition(geometry.coordinates);
        map.flyTo({center: coordinates, zoom: Math.max(map.getZoom(), 16), speed: 1.6});
        showMarker(coordinates, content);
    }

    function alertResult(content) {
        const list = $('#search-results');
        const item = el('li', {class: 'empty'}, [el('span', {class: 'what', text: gettext('无坐标，不能在地图上定位')}), content]);
        list.prepend(item);
    }

    function equipmentResult(feature) {
        const p = feature.properties;
        const code = p.device_code || p.registration_code || p.certificate_number || `#${feature.id}`;
        return {
            feature,
            tag: gettext('设备'),
            what: code,
            more: [(ENGLISH && p.variety_name_en) || p.variety_name, p.use_unit_name, p.rescue_id ? `96333: ${p.rescue_id}` : null].filter(Boolean).join(' · '),
            content: () => {
                const box = popupContent('equipment', {code, kind: p.kind, variety: p.variety, status: p.status}, feature.id);
                box.querySelector('dl').append(
                    ...[[gettext('注册代码'), p.registration_code], [gettext('登记证'), p.certificate_number],
                        ['96333', p.rescue_id], [gettext('使用单位'), p.use_unit_name], [gettext('地点'), p.address],
                        [gettext('下次检验'), p.next_inspection_due]]
                        .filter(([, v]) => v)
                        .flatMap(([t, v]) => [el('dt', {text: t}), el('dd', {text: v})])
                );
                return box;
            }
        };
    }

    function unitResult(feature) {
        const p = feature.properties;
        return {
            feature,
            tag: gettext('单位'),
            what: p.name,
            more: [p.credit_code, p.address].filter(Boolean).join(' · '),
            content: () => {
                const box = popupContent('units', {name: p.name, roles: p.roles}, feature.id);
                box.querySelector('dl').append(
                    ...[[gettext('信用代码'), p.credit_code], [gettext('地址'), p.address]]
                        .filter(([, v]) => v)
                        .flatMap(([t, v]) => [el('dt', {text: t}), el('dd', {text: v})])
                );
                return box;
            }
        };
    }

    async function search(event) {
        event.preventDefault();
        const term = $('#map-search-input').value.trim();
        const list = $('#search-results');
        if (!term) {
            list.hidden = true;
            return;
        }
        const response = await fetch(`${config.urls.search}?q=${encodeURIComponent(term)}&limit=10`,
            {credentials: 'same-origin', headers: {Accept: 'application/json'}});
        const body = await response.json().catch(() => null);
        list.replaceChildren();
        list.hidden = false;
        if (!response.ok) {
            // The one error envelope: say what is wrong with the text, not that nothing was found.
            const problems = Object.values((body && body.errors) || {}).flat();
            list.append(el('li', {class: 'empty', text: problems.length ? problems[0].message : `${response.status}`}));
            return;
        }
        const results = [...featuresOf(body.equipment).map(equipmentResult), ...featuresOf(body.units).map(unitResult)];
        if (!results.length) {
            list.append(el('li', {class: 'empty', text: interpolate(gettext('未找到“%(term)s”'), {term}, true)}));
            return;
        }
        if (body.more) {
            list.append(el('li', {class: 'empty', text: gettext('匹配较多，仅列出部分，请输入更长的内容')}));
        }
        results.forEach((result) => {
            const item = el('li', {tabindex: '0', role: 'button'}, [
                el('span', {class: 'what'}, [el('span', {class: 'tag', text: result.tag}), result.what]),
                result.more ? el('span', {class: 'more', text: result.more}) : null
            ]);
            item.addEventListener('click', () => goTo(result));
            item.addEventListener('keydown', (e) => e.key === 'Enter' && goTo(result));
            list.append(item);
        });
        if (results.length === 1) {
            goTo(results[0]);
        }
    }

    // Picking a region in the filter frames it (its outline is in the base map).
    function frameRegion(prefix) {
        map.setFilter('picked-region', ['==', ['get', 'code'], prefix ? prefix.padEnd(6, '0') : '']);
        if (!prefix) {
            map.fitBounds(bounds, {padding: 30});
            return;
        }
        const code = prefix.padEnd(6, '0');
        const feature = state.outlines.find((f) => f.properties.code === code);
        if (!feature) {
            return;
        }
        const box = new maplibregl.LngLatBounds();
        const extend = (c) => (Array.isArray(c[0]) ? c.forEach(extend) : box.extend(c));
        extend(feature.geometry.coordinates);
        map.fitBounds(box, {padding: 30, maxZoom: 14});
    }

    // ------------------------------------------------------------------ basemaps

    function showMapNotice(text) {
        const notice = $('#map-notice');
        notice.textContent = text;
        notice.hidden = !text;
    }

    // The street base map: Protomaps vector tiles from the local PMTiles archive (maps/views.py
    // basemap_archive), read by HTTP range requests through the vendored `pmtiles` protocol and
    // drawn with the vendored @protomaps/basemaps layers. Like the region names it needs no glyph
    // files: every label is drawn with the browser's fonts. The style's icons (POIs, shields,
    // one-way arrows) would need its sprite sheet, which is not vendored: they are left out.
    const STREETS = config.street_basemap;
    const STREET_SOURCE = 'streets';
    const PMTILES_SCHEME = 'pmtiles://';  // the vendored protocol's, before this site's own URL

    function localFonts(value) {
        if (Array.isArray(value) && value.length && value.every((v) => typeof v === 'string' && v.startsWith('Noto '))) {
            return /Medium|Bold/.test(value.join(' ')) ? FONT_BOLD : FONT;  // a font stack
        }
        return Array.isArray(value) ? value.map(localFonts) : value;  // an expression around stacks
    }

    function streetLayers() {
        /* global basemaps */
        return basemaps.layers(STREET_SOURCE, basemaps.namedFlavor('light'), {lang: 'zh-Hans'})
            .map((layer) => {
                const layout = {...(layer.layout || {})};
                delete layout['icon-image'];
                if (layout['text-font']) {
                    layout['text-font'] = localFonts(layout['text-font']);
                }
                return {...layer, id: `${STREET_SOURCE}-${layer.id}`, layout};
            })
            // Boundaries are our own region outlines (the loaded, official ones), drawn above.
            .filter((layer) => layer['source-layer'] !== 'boundaries')
            .filter((layer) => layer.type !== 'symbol' || layer.layout['text-field']);
    }

    function addStreets() {
        /* global pmtiles */
        maplibregl.addProtocol('pmtiles', new pmtiles.Protocol().tile);
        map.addSource(STREET_SOURCE, {type: 'vector', url: PMTILES_SCHEME + absolute(STREETS.archive), attribution: STREETS.attribution});
        streetLayers().forEach((layer) => map.addLayer(layer, 'land'));
    }

    function showStreets(visible) {
        map.getStyle().layers.filter((layer) => layer.source === STREET_SOURCE).forEach((layer) => {
            map.setLayoutProperty(layer.id, 'visibility', visible ? 'visible' : 'none');
        });
    }

    function setBasemap(id) {
        showMapNotice('');
        const online = config.basemaps.find((b) => b.id === id);
        const streets = Boolean(STREETS) && id === STREETS.id;
        if (streets && !map.getSource(STREET_SOURCE)) {
            addStreets();  // on first use: the archive is not read until then
        } else if (map.getSource(STREET_SOURCE)) {
            showStreets(streets);
        }
        config.basemaps.forEach((basemap) => {
            ['', '-overlay'].forEach((suffix) => {
                const layerId = `online-${basemap.id}${suffix}`;
                if (map.getLayer(layerId)) {
                    map.setLayoutProperty(layerId, 'visibility', basemap.id === id ? 'visible' : 'none');
                }
            });
        });
        if (online && !map.getSource(`online-${id}`)) {
            // Added on first use only: until then the page requests nothing from another host.
            const add = (suffix, tiles) => {
                map.addSource(`online-${id}${suffix}`, {
                    type: 'raster', tiles, tileSize: 256, maxzoom: online.max_zoom,
                    attribution: suffix ? undefined : online.attribution
                });
                map.addLayer({id: `online-${id}${suffix}`, type: 'raster', source: `online-${id}${suffix}`}, 'land');
            };
            add('', online.tiles);
            if (online.overlay_tiles) {
                add('-overlay', online.overlay_tiles);
            }
        }
        map.setLayoutProperty('land', 'visibility', online || streets ? 'none' : 'visible');
        state.basemap = id;
        basemapHealth.failed = 0;
        basemapHealth.loaded = 0;
    }

    // An online base map that cannot load (an intranet without internet, a wrong Tianditu key)
    // says so and gives way to the offline boundaries, instead of leaving the map blank.
    const basemapHealth = {failed: 0, loaded: 0};
    const BASEMAP_FAILURES = 3;

    function onlineSourceOf(event) {
        const id = event.sourceId || (event.source && event.source.id) || '';
        return id.startsWith('online-') ? id : '';
    }

    map.on('sourcedata', (event) => {
        if (event.tile && onlineSourceOf(event) === `online-${state.basemap}`) {
            basemapHealth.loaded += 1;
        }
    });
    map.on('error', (event) => {
        const online = config.basemaps.find((b) => b.id === state.basemap);
        const source = onlineSourceOf(event);
        if (!online || !source.startsWith(`online-${online.id}`) || basemapHealth.loaded) {
            return;
        }
        basemapHealth.failed += 1;
        if (basemapHealth.failed === BASEMAP_FAILURES) {
            $('input[name="basemap"][value="offline"]').checked = true;
            setBasemap('offline');
            showMapNotice(interpolate(gettext('在线底图“%(title)s”无法加载（可能未联网或密钥无效），已切回离线底图'), {title: online.title}, true));
        }
    });

    // An archive that cannot be read (moved, deleted, the session ended) says so and gives way to
    // the boundaries, like an online map that fails.
    map.on('error', (event) => {
        const id = event.sourceId || (event.source && event.source.id) || '';
        if (!STREETS || state.basemap !== STREETS.id || id !== STREET_SOURCE) {
            return;
        }
        $('input[name="basemap"][value="offline"]').checked = true;
        setBasemap('offline');
        showMapNotice(gettext('离线街道底图无法读取（请管理员检查 SEGIS_PMTILES_PATH），已切回行政区划底图'));
    });

    // ------------------------------------------------------------------ wiring

    renderLegends();
    $$('input[name="layer"]').forEach((box) => box.addEventListener('change', applyToggles));
    $('#accident-heat').addEventListener('change', applyToggles);
    $('#accident-window').addEventListener('change', (event) => {
        $('#accident-custom').hidden = event.target.value !== 'custom';
        refreshTiles();
    });
    $$('#accident-custom input').forEach((input) => input.addEventListener('change', refreshTiles));
    const filterForm = $('#filter-form');
    filterForm.addEventListener('change', refreshTiles);
    filterForm.elements.region.addEventListener('change', (event) => frameRegion(event.target.value));
    filterForm.addEventListener('submit', (event) => event.preventDefault());
    filterForm.addEventListener('reset', () => {
        const hadRegion = Boolean(filterForm.elements.region.value);
        setTimeout(() => {  // the form's values are cleared after this event
            refreshTiles();
            if (hadRegion) {
                frameRegion('');
            }
        }, 0);
    });
    $('#map-search').addEventListener('submit', search);
    // The export page opens on what the map shows: the first layer that is on (or the region
    // figures), the filters the map sends it, and the view.
    $('#map-export').addEventListener('click', (event) => {
        const layer = LAYERS.find(isOn);
        const regions = !layer && choroplethOn();
        const params = new URLSearchParams(layer ? layerQuery(layer) : regions ? choroplethQuery() : '');
        params.set('layer', layer || (regions ? 'regions' : 'equipment'));
        params.set('bbox', viewBbox());
        event.currentTarget.search = params.toString();
    });
    // The table of the first layer that is on, under the same filters, in the view (maps/lists.py).
    $('#map-list').addEventListener('click', (event) => {
        const layer = LAYERS.find(isOn) || 'equipment';
        const params = new URLSearchParams(layerQuery(layer));
        params.set('bbox', viewBbox());
        event.currentTarget.href = `${event.currentTarget.dataset.base.replace('LAYER', layer)}?${params}`;
    });
    $('#choropleth-toggle').addEventListener('change', showChoropleth);
    $('#choropleth-metric').addEventListener('change', paintChoropleth);

    // A list's links open the map on its layer, filters and place (?layers=overdue&kind=3000&focus=lon,lat).
    const opened = new URLSearchParams(window.location.search);
    if (opened.has('layers')) {
        const wanted = new Set(opened.get('layers').split(','));
        $$('input[name="layer"]').forEach((box) => { box.checked = wanted.has(box.value); });
    }
    opened.forEach((value, name) => {
        const boxes = $$(`#filter-form input[type="checkbox"][name="${name}"]`);
        if (boxes.length) {  // kind, status: comma lists
            const values = new Set(value.split(','));
            boxes.forEach((box) => { box.checked = values.has(box.value); });
        } else if (filterForm.elements[name] && filterForm.elements[name].tagName) {
            filterForm.elements[name].value = value;
        }
    });

    function focusOpened() {
        const at = (opened.get('focus') || '').split(',').map(Number);
        if (at.length === 2 && at.every(Number.isFinite)) {
            map.jumpTo({center: at, zoom: Math.max(map.getZoom(), 16)});
            if (state.marker) {
                state.marker.remove();
            }
            state.marker = new maplibregl.Marker({color: '#d9480f'}).setLngLat(at).addTo(map);
        }
    }
    $$('input[name="basemap"]').forEach((radio) => radio.addEventListener('change', () => setBasemap(radio.value)));

    map.on('load', async() => {
        const picked = $('input[name="basemap"]:checked');
        if (picked && picked.value !== 'offline') {
            setBasemap(picked.value);  // the street map, when configured, is checked from the start
        }
        const [basemap, catalogue] = await Promise.allSettled([loadBasemap(), loadCatalogue()]);
        if (basemap.status === 'rejected') {
            showNotice(gettext('底图加载失败'));
        }
        showChoropleth();  // the region figures need no tiles
        map.on('click', onClick);
        const parsed = catalogue.status === 'fulfilled' ? catalogue.value : null;
        if (!parsed) {
            showNotice(gettext('矢量瓦片服务尚不可用，专题图层暂不显示'));
            $$('.layer:not(#choropleth)').forEach((row) => row.classList.add('unavailable'));
            $$('input[name="layer"]').forEach((box) => { box.disabled = true; });
            document.body.dataset.mapReady = 'basemap';
            return;
        }
        adoptLegends(parsed.legends);
        Object.entries(parsed.accepted).forEach(([layer, filters]) => {
            if (LAYER_FILTERS[layer]) {
                LAYER_FILTERS[layer] = filters;
            }
        });
        LAYERS.forEach((layer) => {
            if (!parsed.names.size || parsed.names.has(layer)) {
                state.available.add(layer);
            } else {
                $(`.layer[data-layer="${layer}"]`).classList.add('unavailable');
                $(`input[name="layer"][value="${layer}"]`).disabled = true;
            }
        });
        renderLegends();
        addOverlays();
        map.on('moveend', scheduleCounts);
        focusOpened();
        document.body.dataset.mapReady = 'layers';
    });
    map.on('mousemove', onHover);
    map.on('mouseout', () => tooltip.remove());
})();
