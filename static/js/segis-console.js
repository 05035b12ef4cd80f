/* global maplibregl */
'use strict';
// The response console (/response/): locate a call, see what is around, report the incident, ask
// for help along the 96333 tiers and follow it to the end. Everything goes through /response/api/,
// which scopes and checks every request; this script only shows and asks.
(function() {
    const config = JSON.parse(document.getElementById('console-config').textContent);
    const $ = (selector, root) => (root || document).querySelector(selector);
    const {EMPTY, CHINA, el, api, problemsOf, problemText} = SegisPage;
    const COLOURS = {incident: '#d9480f', equipment: '#7048e8', hazard: '#f59f00', resource: '#1c7ed6', asked: '#2b8a3e'};
    const TIME = new Intl.DateTimeFormat('zh-CN', {timeZone: config.time_zone, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false});
    const url = (name, id) => config.urls[name].replace('{id}', id);
    const ENGLISH = document.documentElement.lang === 'en';  // the catalogue keeps both names as data

    const state = {place: null, query: '', incident: null, asked: [], pollTimer: null, clock: null};

    // ------------------------------------------------------------------ small helpers

    const when = (value) => (value ? TIME.format(new Date(value)) : '—');
    const km = (metres) => (metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`);

    // A refusal by field (the field stays an attribute: the messages name what is wrong in words);
    // a suggestion (a swapped pair, say) becomes a button that applies it.
    function showErrors(box, error, onSuggestion) {
        box.replaceChildren();
        box.hidden = !error;
        if (!error) {
            return;
        }
        box.append(...problemsOf(error).map((problem) => el('p', {'data-field': problem.field, 'data-rule': problem.rule}, [
            // A suggestion the page can act on is a button; otherwise it is said in words.
            onSuggestion ? problem.message : problemText(problem),
            problem.suggestion && onSuggestion ? ' ' : null,
            problem.suggestion && onSuggestion ? el('button', {type: 'button', class: 'link', text: interpolate(gettext('改用 %(s)s'), {s: problem.suggestion}, true),
                onclick: () => onSuggestion(problem.suggestion, problem.rule)}) : null
        ])));
    }

    // ------------------------------------------------------------------ the map

    const bounds = config.bounds ? [[config.bounds[0], config.bounds[1]], [config.bounds[2], config.bounds[3]]] : CHINA;
    const map = new maplibregl.Map({
        container: 'console-map',
        style: {
            version: 8,
            sources: {
                basemap: {type: 'geojson', data: EMPTY},
                circles: {type: 'geojson', data: EMPTY},
                links: {type: 'geojson', data: EMPTY},
                places: {type: 'geojson', data: EMPTY}
            },
            layers: [
                ...SegisPage.basemapLayers(),
                {id: 'circles', type: 'fill', source: 'circles', paint: {'fill-color': COLOURS.hazard, 'fill-opacity': 0.08, 'fill-outline-color': COLOURS.hazard}},
                {id: 'links', type: 'line', source: 'links',
                    paint: {'line-color': ['match', ['get', 'role'], 'asked', COLOURS.asked, COLOURS.resource], 'line-width': ['match', ['get', 'role'], 'asked', 3, 1.5],
                        'line-dasharray': [2, 1.5]}},
                {id: 'places', type: 'circle', source: 'places',
                    paint: {
                        'circle-radius': ['match', ['get', 'role'], 'incident', 9, 'equipment', 7, 'asked', 8, 5.5],
                        'circle-color': ['match', ['get', 'role'], 'incident', COLOURS.incident, 'equipment', COLOURS.equipment,
                            'hazard', COLOURS.hazard, 'asked', COLOURS.asked, COLOURS.resource],
                        'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2
                    }},
                {id: 'place-labels', type: 'symbol', source: 'places', filter: ['in', ['get', 'role'], ['literal', ['resource', 'asked']]],
                    layout: {'text-field': ['get', 'label'], 'text-size': 11, 'text-offset': [0, 1.1], 'text-anchor': 'top', 'text-font': ['Noto Sans Regular']},
                    paint: {'text-color': '#1d3557', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5}}
            ]
        },
        bounds: bounds,
        fitBoundsOptions: {padding: 30},
        maxZoom: 18,
        attributionControl: {compact: true, customAttribution: gettext('行政区划：SEGIS')}
    });
    map.addControl(new maplibregl.NavigationControl({showCompass: false}), 'top-right');
    map.dragRotate.disable();
    map.touchZoomRotate.disableRotation();
    window.segisConsoleMap = map;  // for the browser tests
    // The map's box changes without a window resize when the sheet's handle moves it (phones).
    new ResizeObserver(() => map.resize()).observe(document.getElementById('console-map'));
    $('#sheet-handle').addEventListener('click', (event) => {
        const open = document.querySelector('.console').classList.toggle('sheet-open');
        event.currentTarget.setAttribute('aria-expanded', String(open));
        event.currentTarget.lastChild.textContent = open ? gettext('收起面板') : gettext('展开面板');
    });

    const loaded = new Promise((resolve) => map.on('load', resolve));
    loaded.then(async() => {
        try {
            map.getSource('basemap').setData(await api(config.urls.basemap));
        } catch (error) {
            // The base map is decoration: the console works without it.
        }
    });

    const feature = (lon, lat, properties) => ({type: 'Feature', geometry: {type: 'Point', coordinates: [lon, lat]}, properties});

    // A circle of `metres` round a point, as a polygon (64 sides on the sphere; enough on screen).
    function circle(lon, lat, metres) {
        const ring = [];
        const R = 6371008.8;
        const d = metres / R;
        const φ1 = lat * Math.PI / 180;
        const λ1 = lon * Math.PI / 180;
        for (let i = 0; i <= 64; i++) {
            const θ = 2 * Math.PI * i / 64;
            const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
            const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
            ring.push([λ2 * 180 / Math.PI, φ2 * 180 / Math.PI]);
        }
        return {type: 'Feature', geometry: {type: 'Polygon', coordinates: [ring]}, properties: {}};
    }

    const around = {resources: [], hazards: [], radii: {}};

    async function drawMap(fit) {
        await loaded;
        const place = state.place;
        const features = [];
        const links = [];
        const circles = [];
        if (place) {
            around.hazards.forEach((h) => features.push(feature(h.lon, h.lat, {role: 'hazard', label: h.label || ''})));
            Object.values(around.resources).flat().forEach((r) => {
                features.push(feature(r.lon, r.lat, {role: 'resource', label: `${r.name} ${km(r.distance_m)}`}));
                links.push({type: 'Feature', geometry: {type: 'LineString', coordinates: [[place.lon, place.lat], [r.lon, r.lat]]}, properties: {role: 'resource'}});
            });
            state.asked.forEach((a) => {
                features.push(feature(a.lon, a.lat, {role: 'asked', label: interpolate(gettext('已派：%(name)s'), {name: a.name}, true)}));
                links.push({type: 'Feature', geometry: {type: 'LineString', coordinates: [[place.lon, place.lat], [a.lon, a.lat]]}, properties: {role: 'asked'}});
            });
            Object.values(around.radii).forEach((radius) => circles.push(circle(place.lon, place.lat, radius)));
            if (place.device && place.device.lon !== null) {
                features.push(feature(place.device.lon, place.device.lat, {role: 'equipment', label: place.device.code}));
            }
            features.push(feature(place.lon, place.lat, {role: 'incident', label: ''}));
        }
        map.getSource('places').setData({type: 'FeatureCollection', features});
        map.getSource('links').setData({type: 'FeatureCollection', features: links});
        map.getSource('circles').setData({type: 'FeatureCollection', features: circles});
        if (fit && place) {
            const box = new maplibregl.LngLatBounds([place.lon, place.lat], [place.lon, place.lat]);
            features.forEach((f) => box.extend(f.geometry.coordinates));
            map.fitBounds(box, {padding: 60, maxZoom: 16, duration: 0});
        }
    }

    // ------------------------------------------------------------------ locating

    const locateForm = $('#locate-form');
    const results = $('#locate-results');
    const locateErrors = $('#locate-errors');

    function describe(match) {
        const device = match.equipment;
        if (device) {
            return [(ENGLISH && device.variety_name_en) || device.variety_name, device.rescue_id ? `96333 ${device.rescue_id}` : device.device_code || device.registration_code,
                device.address || '', device.use_unit].filter(Boolean);
        }
        if (match.unit) {
            return [match.unit.name, match.unit.address || ''];
        }
        return [`${match.lon.toFixed(6)}, ${match.lat.toFixed(6)}`];
    }

    // A new search replaces the place on screen: a failed one must not leave the last card standing
    // as if it had found it.
    function clearPlace() {
        closeIncident();
        state.place = null;
        around.resources = [];
        around.hazards = [];
        around.radii = {};
        $('#place').hidden = true;
        $('#around').hidden = true;
        $('#card').replaceChildren();
        delete $('#report-form').dataset.ready;
        drawMap(false);
    }

    async function locate(params, query) {
        showErrors(locateErrors, null);
        results.hidden = true;
        clearPlace();
        try {
            const body = await api(`${config.urls.locate}?${new URLSearchParams(params)}`);
            state.query = query;
            if (body.matches.length === 1) {
                choose(body.matches[0]);
                return;
            }
            results.replaceChildren(...body.matches.map((match) => el('li', {tabindex: 0, onclick: () => choose(match),
                onkeydown: (event) => event.key === 'Enter' && choose(match)}, [
                el('span', {class: 'what'}, [el('span', {class: 'tag', text: match.how}), describe(match)[0]]),
                el('span', {class: 'more', text: describe(match).slice(1).join(' · ')})
            ])));
            results.hidden = false;
        } catch (error) {
            showErrors(locateErrors, error, (suggestion, rule) => {
                // A swap is suggested as "lon=…, lat=…": the search box takes the bare pair.
                const numbers = suggestion.match(/-?\d+(?:\.\d+)?/g) || [];
                const swapped = rule === 'location.swapped' && numbers.length === 2;
                $('#locate-input').value = swapped ? numbers.join(',') : suggestion;
                locateForm.requestSubmit();
            });
        }
    }

    locateForm.addEventListener('submit', (event) => {
        event.preventDefault();
        const q = $('#locate-input').value.trim();
        locate({q, crs: $('#locate-crs').value}, q);
    });

    map.on('click', (event) => {
        if ($('#click-mode').checked) {
            const click = `${event.lngLat.lng.toFixed(6)},${event.lngLat.lat.toFixed(6)}`;
            locate({click}, click);
        }
    });

    function placeOf(match) {
        const device = match.equipment;
        return {
            lon: match.lon, lat: match.lat, region: match.region, how: match.how, crs: match.source_crs,
            given: match.given, approximate: match.approximate, unit: match.unit,
            equipmentId: device ? device.id : null, device: null
        };
    }

    async function choose(match) {
        results.hidden = true;
        closeIncident();
        state.place = placeOf(match);
        $('#report-form').hidden = !config.may_act;
        $('#report-form').dataset.ready = '1';
        await showAround();
    }

    // ------------------------------------------------------------------ what is around

    function party(title, unit) {
        if (!unit) {
            return null;
        }
        return el('div', {class: 'party'}, [
            el('span', {class: 'label', text: title}),
            el('b', {text: unit.name}),
            unit.contact_name || unit.contact_phone
                ? el('span', {class: 'contact', text: `${unit.contact_name || ''} ${unit.contact_phone || ''}${unit.masked ? ` (${gettext('已脱敏')})` : ''}`})
                : null
        ]);
    }

    function renderCard(card) {
        const box = $('#card');
        if (!card) {
            box.replaceChildren(el('p', {class: 'muted', text: state.place.unit ? interpolate(gettext('单位：%(name)s'), {name: state.place.unit.name}, true) : gettext('未关联设备')}));
            return;
        }
        const inspection = card.last_inspection;
        box.replaceChildren(el('div', {class: 'device-card'}, [
            el('h3', {}, [el('a', {href: url('equipment_page', card.id), target: '_blank', text: `${(ENGLISH && card.variety.name_en) || card.variety.name} ${card.device_code || card.registration_code}`})]),
            el('dl', {}, [
                el('dt', {text: '96333'}), el('dd', {text: card.rescue_id || '—'}),
                el('dt', {text: gettext('地址')}), el('dd', {text: card.address || '—'}),
                el('dt', {text: gettext('下次检验')}), el('dd', {class: card.overdue ? 'error' : '', text: `${card.next_inspection_due || '—'}${card.overdue ? ` ${gettext('逾期')}` : ''}`}),
                el('dt', {text: gettext('上次检验')}),
                el('dd', {text: inspection ? `${inspection.inspected_on} ${inspection.conclusion_label}` : '—'}),
                el('dt', {text: gettext('历史事故')}), el('dd', {text: card.accidents.length ? card.accidents.map((a) => `${a.occurred_at.slice(0, 10)} ${a.kind}`).join('; ') : gettext('无')})
            ]),
            party(gettext('使用单位'), card.use_unit),
            party(gettext('维保单位'), card.maintenance_unit)
        ]));
    }

    function renderAround(body) {
        around.resources = body.resources || {};
        around.hazards = body.hazards ? body.hazards.items || [] : [];
        around.radii = body.hazards ? body.hazards.radii_m || {} : {};
        const resourceItems = Object.entries(around.resources).flatMap(([type, rows]) => rows.slice(0, 1).map((r) => el('li', {'data-type': type}, [
            el('span', {class: 'tag', text: config.resource_types[type] || type}),
            el('a', {href: url('resource_page', r.id), target: '_blank', text: r.name}),
            el('span', {class: 'muted', text: ` ${km(r.distance_m)} · ${interpolate(gettext('约 %(n)s 分钟'), {n: Math.round(r.eta_min)}, true)}`})
        ])));
        $('#resources').replaceChildren(...(resourceItems.length ? resourceItems : [el('li', {class: 'muted', text: gettext('无')})]));
        $('#hazards').replaceChildren(...(around.hazards.length ? around.hazards.slice(0, 12).map((h) => el('li', {}, [
            el('span', {class: 'tag', 'data-kind': h.what === 'equipment' ? h.kind : 'filling',
                text: h.what === 'equipment' ? config.kinds[h.kind] || h.kind : gettext('加气站')}), h.label || '', el('span', {class: 'muted', text: ` ${km(h.distance_m)} ${h.address || ''}`})
        ])) : [el('li', {class: 'muted', text: gettext('半径内无')})]));
        $('#hazard-total').textContent = body.hazards ? `${body.hazards.total}` : '';
        $('#around').hidden = false;
    }

    async function showAround() {
        const place = state.place;
        $('#place').hidden = false;
        $('#place-region').textContent = `${place.region.name} · ${place.region.urban ? gettext('城区') : gettext('郊县')}`;
        const params = place.equipmentId ? {equipment: place.equipmentId} : {point: `${place.lon},${place.lat}`};
        try {
            const body = await api(`${config.urls.around}?${new URLSearchParams(params)}`);
            if (body.equipment) {
                place.device = {lon: body.equipment.lon, lat: body.equipment.lat, code: body.equipment.rescue_id || body.equipment.device_code};
            }
            renderCard(body.equipment);
            renderAround(body);
        } catch (error) {
            renderCard(null);
            showErrors($('#locate-errors'), error);
        }
        await drawMap(true);
    }

    // ------------------------------------------------------------------ reporting

    $('#report-form').addEventListener('submit', async(event) => {
        event.preventDefault();
        const form = event.target;
        const place = state.place;
        const errors = $('.form-errors', form);
        const body = {fault_code: form.elements.fault_code.value.trim(), summary: form.elements.summary.value.trim(), query: state.query.slice(0, 200)};
        if (place.equipmentId) {
            body.equipment = String(place.equipmentId);
        } else if (place.unit) {
            body.unit = String(place.unit.id);
        } else {
            body.click = `${place.lon},${place.lat}`;
        }
        try {
            const incident = await api(config.urls.incidents, {body});
            showErrors(errors, null);
            form.reset();
            await openIncident(incident.id, false);
            loadIncidentList();
        } catch (error) {
            showErrors(errors, error);
        }
    });

    // ------------------------------------------------------------------ the incident

    const box = $('#incident');

    function closeIncident() {
        state.incident = null;
        state.asked = [];
        clearInterval(state.pollTimer);
        box.hidden = true;
        history.replaceState(null, '', location.pathname);
    }

    async function openIncident(id, locateIt) {
        clearInterval(state.pollTimer);
        const incident = await api(url('incident', id));
        state.incident = incident;
        history.replaceState(null, '', `${location.pathname}?incident=${id}`);
        if (locateIt !== false) {
            state.place = {lon: incident.lon, lat: incident.lat, region: {name: incident.region.name, urban: null},
                equipmentId: incident.equipment ? incident.equipment.id : null, unit: incident.unit, device: null};
            await showAround();
            $('#place-region').textContent = incident.region.name;
        }
        $('#report-form').hidden = true;
        await renderIncident();
        state.pollTimer = setInterval(() => refreshIncident(true), config.poll_ms);
    }

    // A poll redraws the incident: not while the desk is typing a note or a reason in it.
    function busy() {
        const focused = document.activeElement;
        return (box.contains(focused) && ['INPUT', 'TEXTAREA', 'SELECT'].includes(focused.tagName))
            || Boolean(box.querySelector('.cancel-form:not([hidden]), details[open]'));
    }

    async function refreshIncident(poll) {
        if (!state.incident || (poll === true && busy())) {
            return;
        }
        try {
            state.incident = await api(url('incident', state.incident.id));
            await renderIncident();
        } catch (error) {
            // A lost connection shows on the next successful poll; nothing to undo here.
        }
    }

    async function act(path, body, errors) {
        try {
            await api(path, {body});
            await refreshIncident();
            loadIncidentList();
        } catch (error) {
            showErrors(errors, error);
        }
    }

    function countdown(deadline) {
        const left = Math.round((new Date(deadline) - Date.now()) / 1000);
        if (left <= 0) {
            return gettext('已超时，等待升级');
        }
        return interpolate(gettext('剩余 %(t)s'), {t: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`}, true);
    }

    async function renderIncident() {
        const incident = state.incident;
        const ended = ['closed', 'false_alarm'].includes(incident.state);
        const mayAct = config.may_act && !incident.shared;
        const errors = el('div', {class: 'form-errors', role: 'alert', hidden: true});
        let next = null;
        if (mayAct && !ended) {
            try {
                next = (await api(url('dispatch', incident.id))).next;
            } catch (error) {
                next = null;
            }
        }
        const waiting = incident.dispatches.some((d) => d.status === 'pending');
        state.asked = incident.dispatches.filter((d) => d.lon !== undefined && d.lon !== null).map((d) => ({lon: d.lon, lat: d.lat, name: d.party}));

        // The server ends every open ask when the incident ends; an ended incident shows none as open.
        const open = (d) => d.status === 'pending' && !ended;
        const dispatches = incident.dispatches.map((d) => el('li', {class: `dispatch ${d.status}`, 'data-tier': d.tier, 'data-status': d.status}, [
            el('span', {class: 'tag', text: d.tier_label}),
            el('b', {text: d.party}),
            el('span', {class: 'muted', text: ` ${when(d.asked_at)} · `}),
            el('span', {class: `status ${d.status}`, text: {pending: gettext('待响应'), responded: gettext('已响应'),
                declined: gettext('已拒绝'), timed_out: gettext('超时'), cancelled: gettext('已撤销')}[d.status]}),
            d.status === 'cancelled' && d.cancel_reason ? el('span', {class: 'reason muted', text: ` ${d.cancel_reason}`}) : null,
            open(d) && d.deadline_at ? el('span', {class: 'countdown', 'data-deadline': d.deadline_at, text: ` ${countdown(d.deadline_at)}`}) : null,
            mayAct && open(d) ? el('span', {class: 'answers'}, [
                el('button', {type: 'button', class: 'small', text: gettext('已响应'), onclick: () => act(url('respond', d.id), {answer: 'responded'}, errors)}),
                el('button', {type: 'button', class: 'small secondary', text: gettext('拒绝'), onclick: () => act(url('respond', d.id), {answer: 'declined'}, errors)}),
                el('button', {type: 'button', class: 'small secondary cancel-ask', text: pgettext('button', '撤销'), onclick: (event) => {
                    const form = event.target.closest('li').querySelector('.cancel-form');
                    form.hidden = !form.hidden;
                    if (!form.hidden) {
                        form.elements.reason.focus();
                    }
                }})
            ]) : null,
            mayAct && open(d) ? el('form', {class: 'cancel-form', hidden: true, onsubmit: (event) => {
                event.preventDefault();
                act(url('cancel', d.id), {reason: event.target.elements.reason.value.trim()}, errors);
            }}, [
                el('input', {name: 'reason', required: true, maxlength: 500, placeholder: gettext('撤销原因'), 'aria-label': gettext('撤销原因')}),
                el('button', {type: 'submit', class: 'small', text: gettext('确认撤销')})
            ]) : null
        ]));

        const moves = mayAct ? incident.allowed_states.filter((s) => s !== 'dispatched' && s !== 'responded').map((s) => el('button', {
            type: 'button', class: s === 'false_alarm' ? 'secondary' : '', 'data-state': s,
            text: {arrived: gettext('到达现场'), released: gettext('解困'), closed: gettext('结束'), false_alarm: gettext('误报')}[s] || config.states[s],
            onclick: () => act(url('transition', incident.id), {state: s}, errors)
        })) : [];

        const note = mayAct ? el('form', {class: 'note-form', onsubmit: (event) => {
            event.preventDefault();
            const field = event.target.elements.note;
            act(url('events', incident.id), {note: field.value}, errors).then(() => { field.value = ''; });
        }}, [el('input', {name: 'note', maxlength: 2000, placeholder: gettext('记录'), required: true}), el('button', {type: 'submit', class: 'small', text: gettext('记录')})]) : null;

        const share = mayAct && !ended ? el('details', {class: 'share'}, [
            el('summary', {text: gettext('跨辖区共享')}),
            el('form', {onsubmit: (event) => {
                event.preventDefault();
                const f = event.target.elements;
                act(url('grants', incident.id), {grantee: f.grantee.value.trim(), hours: Number(f.hours.value), reason: f.reason.value}, errors);
            }}, [
                el('label', {text: gettext('区划代码')}, [el('input', {name: 'grantee', required: true, maxlength: 6, size: 7})]),
                el('label', {text: gettext('小时')}, [el('input', {name: 'hours', type: 'number', min: 1, max: config.grant_max_hours, value: 4, step: 1})]),
                el('label', {class: 'block', text: gettext('事由')}, [el('input', {name: 'reason', required: true, maxlength: 500})]),
                el('button', {type: 'submit', class: 'small', text: gettext('共享')})
            ])
        ]) : null;

        box.replaceChildren(...[
            el('h2', {}, [interpolate(gettext('事件 #%(id)s'), {id: incident.id}, true), el('span', {class: `state ${incident.state}`, 'data-state': incident.state, text: incident.state_label})]),
            incident.shared ? el('p', {class: 'notice', text: gettext('其他辖区共享，只读')}) : null,
            el('p', {class: 'muted', text: `${when(incident.reported_at)} · ${incident.region.name} · ${incident.address || ''} ${incident.fault_code ? gettext('· 故障') + incident.fault_code : ''}`}),
            incident.summary ? el('p', {text: incident.summary}) : null,
            el('h3', {text: gettext('派单')}),
            el('ol', {class: 'plain-list dispatches'}, dispatches.length ? dispatches : [el('li', {class: 'muted', text: gettext('尚未派单')})]),
            next ? el('button', {type: 'button', class: waiting ? 'secondary' : 'primary', id: 'dispatch-next', 'data-tier': next.tier,
                text: interpolate(waiting ? gettext('不等超时，派单 %(tier)s：%(party)s') : gettext('派单 %(tier)s：%(party)s'), {tier: config.tiers[next.tier] || next.tier, party: next.party}, true),
                onclick: () => act(url('dispatch', incident.id), {}, errors)}) : null,
            moves.length ? el('div', {class: 'moves'}, moves) : null,
            errors,
            note,
            el('h3', {text: gettext('时间线')}),
            el('ol', {class: 'plain-list timeline'}, incident.events.slice().reverse().map((e) => el('li', {}, [
                el('span', {class: 'muted', text: `${when(e.at)} `}),
                e.to_state ? el('b', {text: `${config.states[e.to_state] || e.to_state} `}) : null,
                e.note || '', e.actor ? el('span', {class: 'muted', text: ` · ${e.actor}`}) : null
            ]))),
            el('p', {class: 'links'}, [el('a', {href: url('sheet', incident.id), target: '_blank', text: gettext('事件报告单')})]),
            share
        ].filter(Boolean));
        box.hidden = false;
        await drawMap(false);
    }

    // Deadlines tick between polls.
    state.clock = setInterval(() => {
        document.querySelectorAll('.countdown[data-deadline]').forEach((node) => {
            node.textContent = ` ${countdown(node.dataset.deadline)}`;
        });
    }, 1000);

    // ------------------------------------------------------------------ open incidents

    async function loadIncidentList() {
        try {
            const body = await api(`${config.urls.incidents}?state=open`);
            const rows = body.results.map((i) => el('li', {tabindex: 0, 'data-incident': i.id, onclick: () => openIncident(i.id)}, [
                el('span', {class: `state ${i.state}`, text: i.state_label}),
                el('b', {text: ` #${i.id} `}), i.address || i.region.name,
                el('span', {class: 'more', text: `${when(i.reported_at)}${i.equipment ? ' · ' + i.equipment.code : ''}${i.shared ? gettext('· 共享') : ''}`})
            ]));
            $('#incident-list').replaceChildren(...(rows.length ? rows : [el('li', {class: 'muted', text: gettext('无')})]));
        } catch (error) {
            $('#incident-list').replaceChildren(el('li', {class: 'error', text: gettext('无法读取')}));
        }
    }

    $('#refresh-incidents').addEventListener('click', loadIncidentList);
    loadIncidentList();
    setInterval(loadIncidentList, config.poll_ms * 3);
    if (config.incident) {
        openIncident(config.incident).catch((error) => showErrors(locateErrors, error));
    }
})();
