/* global maplibregl */
'use strict';
// The export page (/export/): the chosen layer's filters, an area drawn on a small map of the
// jurisdiction (our own outlines, nothing from another host), an estimate before starting, and the
// user's background jobs followed to their download link. Without this script the form still works.
(function() {
    const config = JSON.parse(document.getElementById('segis-export-config').textContent);
    const $ = (selector, root) => (root || document).querySelector(selector);
    const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
    const NUMBER = new Intl.NumberFormat('zh-CN');
    const form = $('#export-form');
    const POLL_MS = 1500;
    const FINISHED = ['done', 'failed', 'expired'];

    // ------------------------------------------------------------------ fields and errors

    // `problems`: SegisPage.problemsOf's list, from the API's error envelope.
    function showErrors(problems) {
        $$('[data-error-for]').forEach((node) => { node.textContent = ''; });
        $$('[aria-invalid]', form).forEach((input) => input.removeAttribute('aria-invalid'));
        problems.forEach(({field}) => {
            $$(`[name="${field}"]`, form).forEach((input) => input.setAttribute('aria-invalid', 'true'));
        });
        const box = $('.form-errors');
        if (box) {
            box.remove();
        }
        const unplaced = [];
        problems.forEach((problem) => {
            const message = SegisPage.problemText(problem);
            const node = problem.field && $(`[data-error-for="${problem.field}"]`, form);
            if (node) {
                node.textContent = [node.textContent, message].filter(Boolean).join(' ');
            } else {
                unplaced.push(!problem.field || problem.field === 'export' ? message : `${problem.field}: ${message}`);
            }
        });
        if (unplaced.length) {
            const alert = document.createElement('div');
            alert.className = 'form-errors';
            alert.setAttribute('role', 'alert');
            unplaced.forEach((text) => {
                const p = document.createElement('p');
                p.className = 'error';
                p.textContent = text;
                alert.append(p);
            });
            $('.lead', form).after(alert);
        }
    }

    // Only the chosen layer's filters are shown and sent, as the map sends each layer its own.
    function showLayerFilters() {
        const layer = form.elements.layer.value;
        const accepted = config.layer_params[layer] || [];
        let any = false;
        $$('.filter', form).forEach((node) => {
            const on = accepted.includes(node.dataset.param);
            any = any || on;
            node.hidden = !on;
            $$('input, select', node).forEach((input) => { input.disabled = !on; });
        });
        $('#no-filters').hidden = any;
        $('#date-meaning').textContent = config.date_meanings[layer] || gettext('日期');
    }

    // GeoJSON and KML are WGS84 by their specifications: no other system is offered with them.
    function limitCrs() {
        const only = config.wgs84_only.includes(form.elements.format.value);
        const select = form.elements.crs;
        $$('option', select).forEach((option) => { option.disabled = only && option.value !== 'wgs84'; });
        if (only) {
            select.value = 'wgs84';
        }
        $('#wgs84-note').hidden = !only;
        // Excel misreads a CSV's long codes: the note stands out while CSV is chosen.
        $('#excel-note').classList.toggle('attention', form.elements.format.value === 'csv');
    }

    // ------------------------------------------------------------------ estimate

    function formatBytes(bytes) {
        const units = ['B', 'KB', 'MB', 'GB'];
        let value = bytes;
        let unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit += 1;
        }
        return `${value < 10 && unit ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
    }

    function formatSeconds(seconds) {
        if (seconds < 60) {
            return interpolate(gettext('%(n)s 秒'), {n: Math.max(1, Math.round(seconds))}, true);
        }
        return interpolate(gettext('%(n)s 分钟'), {n: Math.round(seconds / 60)}, true);
    }

    async function estimate(event) {
        event.preventDefault();
        const output = $('#estimate');
        output.textContent = gettext('正在估算…');
        output.classList.remove('error');
        const response = await fetch(config.urls.estimate, {
            method: 'POST', body: new FormData(form), credentials: 'same-origin'
        });
        const body = await response.json();
        if (!response.ok) {
            showErrors(SegisPage.problemsOf({status: response.status, body}));
            output.textContent = gettext('请先更正标出的问题');
            output.classList.add('error');
            return;
        }
        showErrors([]);
        output.textContent = [
            interpolate(ngettext('%(n)s 行', '%(n)s 行', body.rows), {n: NUMBER.format(body.rows)}, true),
            interpolate(gettext('约 %(x)s'), {x: formatBytes(body.bytes)}, true),
            interpolate(gettext('约 %(x)s'), {x: formatSeconds(body.seconds)}, true),
            body.background ? gettext('将在后台运行') : gettext('立即下载'),
            body.file_name
        ].join(' · ');
        output.dataset.rows = body.rows;
    }

    // ------------------------------------------------------------------ the area map

    const {CHINA, EMPTY} = SegisPage;
    const ACCENT = '#d9480f';
    const bounds = config.bounds ? [[config.bounds[0], config.bounds[1]], [config.bounds[2], config.bounds[3]]] : CHINA;
    const map = new maplibregl.Map({
        container: 'area-map',
        style: {
            version: 8,
            sources: {
                basemap: {type: 'geojson', data: EMPTY},
                bbox: {type: 'geojson', data: EMPTY},
                polygon: {type: 'geojson', data: EMPTY},
                draft: {type: 'geojson', data: EMPTY}
            },
            layers: [
                ...SegisPage.basemapLayers(),
                {id: 'bbox-fill', type: 'fill', source: 'bbox', paint: {'fill-color': '#0b4f8a', 'fill-opacity': 0.08}},
                {id: 'bbox-line', type: 'line', source: 'bbox', paint: {'line-color': '#0b4f8a', 'line-width': 1.5, 'line-dasharray': [4, 2]}},
                {id: 'polygon-fill', type: 'fill', source: 'polygon', paint: {'fill-color': ACCENT, 'fill-opacity': 0.15}},
                {id: 'polygon-line', type: 'line', source: 'polygon', paint: {'line-color': ACCENT, 'line-width': 2}},
                {id: 'draft-line', type: 'line', source: 'draft', paint: {'line-color': ACCENT, 'line-width': 2, 'line-dasharray': [2, 1]}},
                {id: 'draft-points', type: 'circle', source: 'draft', filter: ['==', ['geometry-type'], 'Point'],
                    paint: {'circle-radius': 4, 'circle-color': '#ffffff', 'circle-stroke-color': ACCENT, 'circle-stroke-width': 2}}
            ]
        },
        bounds: bounds,
        fitBoundsOptions: {padding: 20},
        maxZoom: 18,
        attributionControl: {compact: true, customAttribution: gettext('行政区划：SEGIS')}
    });
    map.addControl(new maplibregl.NavigationControl({showCompass: false}), 'top-right');
    map.dragRotate.disable();
    map.touchZoomRotate.disableRotation();
    window.segisExportMap = map;  // for the browser tests and the console

    const draw = {on: false, vertices: []};
    const round = (v) => Math.round(v * 1e6) / 1e6;

    function setData(source, data) {
        const target = map.getSource(source);
        if (target) {
            target.setData(data);
        }
    }

    function showDraft() {
        const points = draw.vertices.map((c) => ({type: 'Feature', geometry: {type: 'Point', coordinates: c}, properties: {}}));
        const line = draw.vertices.length > 1
            ? [{type: 'Feature', geometry: {type: 'LineString', coordinates: draw.vertices.concat([draw.vertices[0]])}, properties: {}}]
            : [];
        setData('draft', {type: 'FeatureCollection', features: line.concat(points)});
        $('#draw-finish').disabled = draw.vertices.length < 3;
        $('#draw-hint').textContent = draw.on
            ? interpolate(ngettext('已点 %(n)s 个顶点；点“完成”或双击结束', '已点 %(n)s 个顶点；点“完成”或双击结束', draw.vertices.length), {n: draw.vertices.length}, true)
            : '';
    }

    function geometryOf(text) {
        try {
            const data = JSON.parse(text);
            const geometry = data && data.type === 'Feature' ? data.geometry : data;
            return geometry && ['Polygon', 'MultiPolygon'].includes(geometry.type) ? geometry : null;
        } catch (error) {
            return null;  // WKT, or text still being typed: the server reads and checks it
        }
    }

    function showPolygon() {
        const geometry = geometryOf(form.elements.polygon.value);
        setData('polygon', geometry ? {type: 'Feature', geometry: geometry, properties: {}} : EMPTY);
    }

    function showBbox() {
        const parts = form.elements.bbox.value.split(',').map(Number);
        const ok = parts.length === 4 && parts.every(Number.isFinite) && parts[0] < parts[2] && parts[1] < parts[3];
        const [w, s, e, n] = parts;
        setData('bbox', ok
            ? {type: 'Feature', properties: {}, geometry: {type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}
            : EMPTY);
    }

    function startDrawing() {
        draw.on = true;
        draw.vertices = [];
        map.doubleClickZoom.disable();
        map.getCanvas().style.cursor = 'crosshair';
        $('#draw-start').disabled = true;
        showDraft();
    }

    function stopDrawing() {
        draw.on = false;
        draw.vertices = [];
        map.getCanvas().style.cursor = '';
        $('#draw-start').disabled = false;
        setTimeout(() => map.doubleClickZoom.enable(), 0);
        showDraft();
    }

    function finishDrawing() {
        if (draw.vertices.length < 3) {
            return;
        }
        // A double click to finish also clicked twice on its corner: one corner, not three.
        const ring = draw.vertices.map(([lon, lat]) => [round(lon), round(lat)])
            .filter((c, i, all) => i === 0 || c[0] !== all[i - 1][0] || c[1] !== all[i - 1][1]);
        if (ring.length < 3) {
            return;
        }
        ring.push(ring[0]);
        form.elements.polygon.value = JSON.stringify({type: 'Polygon', coordinates: [ring]});
        stopDrawing();
        showPolygon();
    }

    map.on('click', (event) => {
        if (draw.on) {
            draw.vertices.push([event.lngLat.lng, event.lngLat.lat]);
            showDraft();
        }
    });
    map.on('dblclick', (event) => {
        if (draw.on) {
            event.preventDefault();
            finishDrawing();
        }
    });
    map.on('load', async() => {
        const response = await fetch(config.urls.basemap, {credentials: 'same-origin'});
        if (response.ok) {
            setData('basemap', await response.json());
        }
        showBbox();
        showPolygon();
        // A polygon the page came back with (or was linked with) is where the user looks.
        const geometry = geometryOf(form.elements.polygon.value);
        if (geometry) {
            const box = new maplibregl.LngLatBounds();
            const extend = (c) => (Array.isArray(c[0]) ? c.forEach(extend) : box.extend(c));
            extend(geometry.coordinates);
            map.fitBounds(box, {padding: 40, maxZoom: 13, duration: 0});
        }
        document.body.dataset.areaMapReady = 'true';
    });

    $('#draw-start').addEventListener('click', startDrawing);
    $('#draw-finish').addEventListener('click', finishDrawing);
    $('#draw-clear').addEventListener('click', () => {
        form.elements.polygon.value = '';
        stopDrawing();
        showPolygon();
    });
    $('#bbox-from-view').addEventListener('click', () => {
        const b = map.getBounds();
        form.elements.bbox.value = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(',');
        showBbox();
    });
    form.elements.bbox.addEventListener('input', showBbox);
    form.elements.polygon.addEventListener('input', showPolygon);

    // ------------------------------------------------------------------ my exports

    const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', {hour12: false}) : '');

    function jobFacts(state, rows, bytes) {
        return state === 'done' ? `${interpolate(ngettext('%(n)s 行', '%(n)s 行', rows), {n: NUMBER.format(rows)}, true)} · ${formatBytes(bytes)}` : '';
    }

    function renderJob(item, job) {
        item.className = `job state-${job.state}`;
        item.dataset.state = job.state;
        $('.job-state', item).textContent = job.state_label;
        const total = job.total === null ? job.estimate : job.total;
        const bar = $('progress', item);
        bar.max = Math.max(total, 1);
        bar.value = job.state === 'done' ? bar.max : job.done;
        $('.job-count', item).textContent = `${NUMBER.format(job.done)} / ${NUMBER.format(total)}`;
        const error = $('.job-error', item);
        error.textContent = job.error;
        error.hidden = !job.error;
        $('.job-facts', item).textContent = jobFacts(job.state, job.done, job.file_size);
        const link = $('.job-download', item);
        link.hidden = !job.download_url;
        if (job.download_url) {
            link.href = job.download_url;
            $('.job-file', link).textContent = job.file_name;
        }
        $('.job-created', item).textContent = interpolate(gettext('提交于 %(t)s'), {t: when(job.created_at)}, true);
        const expiry = $('.job-expiry', item);
        expiry.textContent = job.state === 'done' && job.expires_at ? interpolate(gettext('有效至 %(t)s'), {t: when(job.expires_at)}, true) : '';
    }

    async function poll(item) {
        const response = await fetch(item.dataset.statusUrl, {credentials: 'same-origin', cache: 'no-store'});
        if (!response.ok) {
            return;
        }
        const job = await response.json();
        renderJob(item, job);
        if (!FINISHED.includes(job.state)) {
            setTimeout(() => poll(item), POLL_MS);
        }
    }

    $$('.job').forEach((item) => {
        const created = $('.job-created', item);
        created.textContent = interpolate(gettext('提交于 %(t)s'), {t: when(created.getAttribute('datetime'))}, true);
        const facts = $('.job-facts', item);
        facts.textContent = jobFacts(item.dataset.state, Number(facts.dataset.rows), Number(facts.dataset.bytes));
        const count = $('.job-count', item);
        count.textContent = count.textContent.split(' / ').map((n) => NUMBER.format(Number(n))).join(' / ');
        const expiry = $('.job-expiry', item);
        if (item.dataset.state === 'done' && expiry.dataset.expires) {
            expiry.textContent = interpolate(gettext('有效至 %(t)s'), {t: when(expiry.dataset.expires)}, true);
        }
        if (!FINISHED.includes(item.dataset.state)) {
            poll(item);
        }
    });
    const anchored = window.location.hash && $(window.location.hash);
    if (anchored) {
        anchored.classList.add('new');
    }

    // ------------------------------------------------------------------ wiring

    form.elements.layer.addEventListener('change', showLayerFilters);
    form.elements.format.addEventListener('change', limitCrs);
    $('#estimate-button').addEventListener('click', estimate);
    form.addEventListener('submit', () => {
        // A small export comes back as the download and the page stays: say that it is coming.
        $('#estimate').textContent = gettext('正在导出…');
    });
    showLayerFilters();
    limitCrs();
    $$('[data-error-for]', form).forEach((node) => {  // the server's own answer to a submit
        if (node.textContent.trim()) {
            $$(`[name="${node.dataset.errorFor}"]`, form).forEach((input) => input.setAttribute('aria-invalid', 'true'));
        }
    });
}());
