/* global maplibregl */
'use strict';
// The patrol pages (/patrol/): a new plan (area, period, criteria, teams) and the plans list; one
// plan's day routes on a map, moved, re-optimised and recorded stop by stop. Everything goes through
// /patrol/api/, which scopes and checks every request; this script only shows and asks.
(function() {
    const config = JSON.parse(document.getElementById('patrol-config').textContent);
    const $ = (selector, root) => (root || document).querySelector(selector);
    const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
    const {EMPTY, CHINA, el, api, problemsOf, problemText} = SegisPage;
    // No `glyphs` URL in the styles: MapLibre draws the stop numbers with the browser's own fonts
    // (TinySDF), as segis-map.js does, so the numbers need no glyph files and no network.
    const FONT_BOLD = ['Noto Sans CJK SC Bold', 'Microsoft YaHei Bold', 'PingFang SC', 'sans-serif'];
    // One colour per day of the plan (colour-blind safe first; then repeats are told apart by the list).
    const TEAM_COLOURS = ['#1f77b4', '#d95f02', '#1b9e77', '#7570b3', '#e7298a', '#66a61e', '#a6761d', '#e6ab02', '#17becf', '#666666'];
    const url = (name, id) => config.urls[name].replace('{id}', id);

    // ------------------------------------------------------------------ small helpers

    function showProblems(box, problems) {
        box.replaceChildren(...(problems || []).map((p) => el('p', {'data-field': p.field, 'data-rule': p.rule},
            [p.field ? el('b', {text: `${p.field}: `}) : null, problemText(p)])));
        box.hidden = !(problems && problems.length);
    }

    function makeMap(container, sources, layers, padding) {
        const b = config.bounds;
        const map = new maplibregl.Map({
            container,
            style: {version: 8, sources: {basemap: {type: 'geojson', data: EMPTY}, ...sources}, layers: SegisPage.basemapLayers().concat(layers)},
            bounds: b ? [[b[0], b[1]], [b[2], b[3]]] : CHINA,
            fitBoundsOptions: {padding},
            maxZoom: 18,
            attributionControl: {compact: true, customAttribution: gettext('行政区划：SEGIS')}
        });
        map.addControl(new maplibregl.NavigationControl({showCompass: false}), 'top-right');
        map.dragRotate.disable();
        map.touchZoomRotate.disableRotation();
        map.ready = new Promise((resolve) => map.on('load', resolve));
        map.basemap = map.ready.then(async() => {
            try {
                map.getSource('basemap').setData(await api(config.urls.basemap));
            } catch (error) {
                // The base map is decoration: the page works without it.
            }
        });
        return map;
    }

    // ================================================================== the plans page

    function plansPage() {
        const form = $('#plan-form');
        const NUMBER = new Intl.NumberFormat('zh-CN');

        async function loadPlans() {
            const rows = $('#plan-rows');
            try {
                const plans = await api(config.urls.plans);
                rows.replaceChildren(...plans.map((plan) => el('tr', {'data-plan': plan.id}, [
                    el('td', {}, [el('a', {href: url('plan_page', plan.id), text: `#${plan.id}`})]),
                    el('td', {title: plan.region, text: config.region_names[plan.region] || plan.region || '—'}),
                    el('td', {class: 'period', text: `${plan.from} – ${plan.to}`}),
                    el('td', {class: 'num', text: NUMBER.format(plan.candidates)}),
                    el('td', {text: plan.owner})
                ])));
                if (!plans.length) {
                    rows.replaceChildren(el('tr', {}, [el('td', {colspan: 5, class: 'muted', text: gettext('暂无计划')})]));
                }
            } catch (error) {
                rows.replaceChildren(el('tr', {}, [el('td', {colspan: 5, class: 'error', text: problemsOf(error)[0].message})]));
            }
        }
        $('#refresh-plans').addEventListener('click', loadPlans);
        loadPlans();
        if (!form) {
            return;  // an inspector: the list of their plans only
        }

        // -------------------------------------------------------------- errors by field

        function showErrors(problems) {
            $$('[data-error-for]', form).forEach((node) => { node.textContent = ''; });
            $$('[aria-invalid]', form).forEach((input) => input.removeAttribute('aria-invalid'));
            const unplaced = [];
            problems.forEach((p) => {
                // A field the form has no line for goes to its parent's line (criteria.kind → criteria).
                let field = p.field;
                let node = $(`[data-error-for="${field}"]`, form);
                while (!node && field.includes('.')) {
                    field = field.slice(0, field.lastIndexOf('.'));
                    node = $(`[data-error-for="${field}"]`, form);
                }
                if (node) {
                    node.textContent = [node.textContent, problemText(p)].filter(Boolean).join(' ');
                    node.dataset.rule = p.rule;
                    const section = node.closest('section');
                    $$('input, select', section).forEach((input) => input.setAttribute('aria-invalid', 'true'));
                } else {
                    unplaced.push(p);
                }
            });
            showProblems($('#plan-errors'), unplaced);
            const first = $('[data-error-for]:not(:empty), #plan-errors:not([hidden])', form);
            if (first) {
                first.scrollIntoView({block: 'center'});
            }
        }

        // -------------------------------------------------------------- the area map

        const ACCENT = '#d9480f';
        const map = makeMap('area-map', {polygon: {type: 'geojson', data: EMPTY}, draft: {type: 'geojson', data: EMPTY}}, [
            {id: 'polygon-fill', type: 'fill', source: 'polygon', paint: {'fill-color': ACCENT, 'fill-opacity': 0.15}},
            {id: 'polygon-line', type: 'line', source: 'polygon', paint: {'line-color': ACCENT, 'line-width': 2}},
            {id: 'draft-line', type: 'line', source: 'draft', paint: {'line-color': ACCENT, 'line-width': 2, 'line-dasharray': [2, 1]}},
            {id: 'draft-points', type: 'circle', source: 'draft', filter: ['==', ['geometry-type'], 'Point'],
                paint: {'circle-radius': 4, 'circle-color': '#ffffff', 'circle-stroke-color': ACCENT, 'circle-stroke-width': 2}}
        ], 20);
        window.segisPatrolAreaMap = map;  // for the browser tests
        map.basemap.then(() => map.once('idle', () => { document.body.dataset.areaMapReady = 'true'; }));

        // Drawn as on the export page (segis-export.js): click the corners, double-click or Finish.
        const draw = {on: false, vertices: []};
        const round = (v) => Math.round(v * 1e6) / 1e6;
        const setData = (source, data) => map.getSource(source) && map.getSource(source).setData(data);

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

        function showPolygon() {
            const text = form.elements.polygon.value;
            setData('polygon', text ? {type: 'Feature', geometry: JSON.parse(text), properties: {}} : EMPTY);
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

        $('#draw-start').addEventListener('click', () => {
            draw.on = true;
            draw.vertices = [];
            map.doubleClickZoom.disable();
            map.getCanvas().style.cursor = 'crosshair';
            $('#draw-start').disabled = true;
            showDraft();
        });
        $('#draw-finish').addEventListener('click', finishDrawing);
        $('#draw-clear').addEventListener('click', () => {
            form.elements.polygon.value = '';
            stopDrawing();
            showPolygon();
        });
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

        function showAreaMode() {
            const mode = form.elements.area_mode.value;
            $('#division-field').hidden = mode !== 'region';
            $('#polygon-field').hidden = mode !== 'polygon';
            if (mode !== 'polygon' && draw.on) {
                stopDrawing();
            }
        }
        $$('[name=area_mode]', form).forEach((input) => input.addEventListener('change', showAreaMode));
        showAreaMode();

        // -------------------------------------------------------------- teams and their members

        const whole = (name) => Number(form.elements[name].value);

        function showTeamChoices() {
            const count = Math.max(0, Math.min(50, Math.floor(whole('teams')) || 0));
            $$('select[name=member]', form).forEach((select) => {
                const chosen = select.value;
                select.replaceChildren(el('option', {value: '', text: gettext('不参加')}),
                    ...Array.from({length: count}, (_, i) => el('option', {value: i + 1, text: interpolate(gettext('第%(n)s组'), {n: i + 1}, true)})));
                select.value = Number(chosen) <= count ? chosen : '';
            });
        }
        form.elements.teams.addEventListener('input', showTeamChoices);
        showTeamChoices();

        function members(count) {
            const teams = Array.from({length: count}, () => []);
            $$('select[name=member]', form).forEach((select) => {
                if (select.value && Number(select.value) <= count) {
                    teams[Number(select.value) - 1].push(Number(select.dataset.user));
                }
            });
            return teams.some((team) => team.length) ? teams : undefined;
        }

        function area() {
            const mode = form.elements.area_mode.value;
            if (mode === 'region') {
                return {region: form.elements.region.value};
            }
            if (mode === 'polygon') {
                return {polygon: form.elements.polygon.value ? JSON.parse(form.elements.polygon.value) : ''};
            }
            return 'jurisdiction';
        }

        // Numbers the browser cannot read go to the API as they were typed: its answer names the field.
        const number = (name) => (form.elements[name].value.trim() === '' ? undefined : Number(form.elements[name].value));

        form.addEventListener('submit', async(event) => {
            event.preventDefault();
            const status = $('#plan-status');
            const button = $('#plan-submit');
            showErrors([]);
            const kinds = $$('input[name=kind]:checked', form).map((input) => input.value);
            const criteria = {min_score: number('min_score'), limit: number('limit')};
            if (kinds.length) {
                criteria.kind = kinds.join(',');
            }
            const teams = number('teams');
            button.disabled = true;
            status.textContent = gettext('正在排序并排线…');
            let plan = null;
            try {
                const crew = {count: teams, hours: number('hours'), break: number('break'), members: members(teams)};
                const start = form.elements.start.value.trim();
                if (start) {
                    // "lon,lat" (a comma, a space or a full-width comma between); anything else goes
                    // as typed, and the API names the field.
                    const parts = start.split(/[\s,，]+/).filter(Boolean).map(Number);
                    crew.start = parts.length === 2 && parts.every(Number.isFinite) ? parts : start;
                }
                // One request: the plan and its routes are made together, or neither is.
                plan = await api(config.urls.plans, {body: {
                    area: area(), period: {from: form.elements.from.value, to: form.elements.to.value}, criteria, teams,
                    routing: {teams: crew, days: number('days')}
                }});
                status.textContent = gettext('完成');
                window.location.assign(url('plan_page', plan.id));
            } catch (error) {
                showErrors(problemsOf(error));
                status.replaceChildren(plan
                    ? el('span', {}, [gettext('计划已保存但未排线'),
                        el('a', {href: url('plan_page', plan.id), text: `#${plan.id}`})])
                    : gettext('请更正标出的问题'));
                loadPlans();
            } finally {
                button.disabled = false;
            }
        });
    }

    // ================================================================== one plan

    function planPage() {
        const state = {data: null, selected: null, fitted: false};
        const [startHour, startMinute] = config.day_start.split(':').map(Number);
        const clock = (minutes) => {
            const total = Math.round(startHour * 60 + startMinute + minutes);
            return `${String(Math.floor(total / 60) % 24).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`;
        };
        // A colour per team (two teams out on one day must not look alike); the day is in the
        // stop's label: "2·3" is day 2, third stop.
        const teamColour = (team) => TEAM_COLOURS[(team.number - 1) % TEAM_COLOURS.length];
        const dayNumber = (day) => state.days.indexOf(day) + 1;
        const stopLabel = (route, stop) => `${dayNumber(route.day)}·${stop.sequence}`;
        const errorBox = $('#plan-errors');
        // Times read in the agency's zone, whatever the browser's machine is set to.
        const TIME = new Intl.DateTimeFormat('zh-CN', {timeZone: config.time_zone, year: 'numeric', month: '2-digit', day: '2-digit',
            hour: '2-digit', minute: '2-digit', hour12: false});

        const map = makeMap('plan-map', {
            lines: {type: 'geojson', data: EMPTY},
            stops: {type: 'geojson', data: EMPTY},
            starts: {type: 'geojson', data: EMPTY}
        }, [
            {id: 'route-casing', type: 'line', source: 'lines', layout: {'line-join': 'round', 'line-cap': 'round'},
                paint: {'line-color': '#ffffff', 'line-width': 6, 'line-opacity': 0.9}},
            {id: 'route-lines', type: 'line', source: 'lines', layout: {'line-join': 'round', 'line-cap': 'round'},
                paint: {'line-color': ['get', 'colour'], 'line-width': 3}},
            {id: 'starts', type: 'circle', source: 'starts',
                paint: {'circle-radius': 10, 'circle-color': '#212529', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2}},
            {id: 'start-labels', type: 'symbol', source: 'starts',
                layout: {'text-field': gettext('起'), 'text-font': FONT_BOLD, 'text-size': 11, 'text-allow-overlap': true, 'text-ignore-placement': true},
                paint: {'text-color': '#ffffff'}},
            {id: 'stop-highlight', type: 'circle', source: 'stops', filter: ['==', ['get', 'id'], -1],
                paint: {'circle-radius': 16, 'circle-color': '#ffd43b', 'circle-opacity': 0.9, 'circle-stroke-color': '#212529', 'circle-stroke-width': 2}},
            {id: 'stops', type: 'circle', source: 'stops',
                paint: {'circle-radius': 12, 'circle-color': ['get', 'colour'], 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2}},
            {id: 'stop-numbers', type: 'symbol', source: 'stops',
                layout: {'text-field': ['get', 'label'], 'text-font': FONT_BOLD, 'text-size': 10,
                    'text-allow-overlap': true, 'text-ignore-placement': true},
                paint: {'text-color': '#ffffff'}}
        ], 30);
        window.segisPatrolMap = map;  // for the browser tests

        const feature = (geometry, properties) => ({type: 'Feature', geometry, properties});

        async function drawMap() {
            await map.basemap;
            const lines = [];
            const stops = [];
            const starts = new Map();
            state.data.routes.forEach((route) => {
                const colour = teamColour(route.team);
                const places = route.stops.filter((s) => s.location);
                lines.push(feature({type: 'LineString', coordinates: [route.start, ...places.map((s) => s.location), route.end]},
                    {route: route.id, day: route.day, team: route.team.number, colour}));
                places.forEach((s) => stops.push(feature({type: 'Point', coordinates: s.location},
                    {id: s.id, route: route.id, sequence: s.sequence, label: stopLabel(route, s), team: route.team.number, colour})));
                starts.set(route.start.join(','), feature({type: 'Point', coordinates: route.start}, {team: route.team.number}));
            });
            map.getSource('lines').setData({type: 'FeatureCollection', features: lines});
            map.getSource('stops').setData({type: 'FeatureCollection', features: stops});
            map.getSource('starts').setData({type: 'FeatureCollection', features: Array.from(starts.values())});
            if (!state.fitted && (stops.length || starts.size)) {
                const box = new maplibregl.LngLatBounds();
                stops.concat(Array.from(starts.values())).forEach((f) => box.extend(f.geometry.coordinates));
                map.fitBounds(box, {padding: 50, maxZoom: 15, duration: 0});
                state.fitted = true;
            }
            highlight(state.selected, false);
            map.once('idle', () => { document.body.dataset.patrolMapReady = 'true'; });
            map.triggerRepaint();
        }

        function highlight(stopId, scroll) {
            state.selected = stopId;
            map.setFilter('stop-highlight', ['==', ['get', 'id'], stopId === null ? -1 : stopId]);
            $$('.stop.selected').forEach((node) => node.classList.remove('selected'));
            const item = stopId !== null && $(`.stop[data-stop="${stopId}"]`);
            if (item) {
                item.classList.add('selected');
                if (scroll) {
                    // Scroll the column only: scrollIntoView would scroll the page under the top bar too.
                    const side = item.closest('.mapside');
                    const offset = item.getBoundingClientRect().top - side.getBoundingClientRect().top;
                    side.scrollTo({top: side.scrollTop + offset - side.clientHeight / 3, behavior: 'smooth'});
                }
            }
        }

        map.on('click', 'stops', (event) => {
            const hit = event.features && event.features[0];
            if (hit) {
                highlight(hit.properties.id, true);
            }
        });
        map.on('mouseenter', 'stops', () => { map.getCanvas().style.cursor = 'pointer'; });
        map.on('mouseleave', 'stops', () => { map.getCanvas().style.cursor = ''; });

        // -------------------------------------------------------------- the column

        function routeLabel(route) {
            return `${route.team.name} · ${route.day}`;
        }

        function renderSummary() {
            const data = state.data;
            const summary = data.summary || {};
            const scheduled = data.routes.reduce((n, r) => n + r.stops.length, 0);
            const total = data.routes.reduce((n, r) => n + r.total_minutes, 0);
            const visited = data.routes.reduce((n, r) => n + r.stops.filter((s) => s.result && s.result.visited).length, 0);
            const facts = [
                [gettext('候选'), scheduled + data.unscheduled.length, 'candidates'],
                [gettext('已排'), scheduled, 'scheduled'],
                [gettext('已巡查'), visited, 'visited'],
                [gettext('未排入'), data.unscheduled.length, 'unscheduled'],
                [gettext('总用时'), Math.round(total), 'total-minutes'],
                [gettext('出发点'), summary.start ? summary.start.label : '—', 'start'],
                [gettext('求解'), summary.seconds === undefined ? '—' : `${interpolate(gettext('%(n)s 秒'), {n: summary.seconds}, true)}${summary.status ? ` · ${summary.status}` : ''}`, 'seconds']
            ];
            $('#summary-facts').replaceChildren(...facts.flatMap(([label, value, key]) => [
                el('dt', {text: label}), el('dd', {'data-fact': key, text: value})]));
            $('#teams').replaceChildren(...data.teams.map((team) => el('li', {}, [
                el('b', {text: team.name}), ` · ${interpolate(gettext('%(n)s 小时'), {n: team.working_minutes / 60}, true)} · `,
                team.members.length ? interpolate(gettext('人员：%(names)s'), {names: team.members.join(gettext('、'))}, true) : el('span', {class: 'muted', text: gettext('未指定人员')})
            ])));
            if (!data.routes.length) {
                $('#teams').append(el('li', {class: 'muted', text: gettext('尚未排线')}));
            }
            const legend = $('#day-legend');
            const teams = data.teams.filter((team) => data.routes.some((r) => r.team.number === team.number));
            legend.replaceChildren(el('span', {class: 'legend-title', text: gettext('小组')}),
                ...teams.map((team) => el('span', {'data-team': team.number}, [el('i', {class: 'line', style: `background:${teamColour(team)}`}), team.name])),
                el('span', {class: 'legend-title', text: gettext('编号：第几天·顺序')}),
                ...state.days.map((day) => el('span', {'data-day': dayNumber(day)}, [el('b', {class: 'day-number', text: dayNumber(day)}), day])),
                el('span', {}, [el('i', {class: 'start'}), gettext('出发点')]));
        }

        function stopProblems(item, problems) {
            showProblems($('.stop-errors', item), problems);
        }

        async function move(stop, routeId, position, item) {
            try {
                state.data = await api(url('move', stop.id), {body: {route: routeId, position}});
                render();
                highlight(stop.id, true);
            } catch (error) {
                stopProblems(item, problemsOf(error));
            }
        }

        function moveForm(stop, route, item) {
            const select = el('select', {name: 'route', 'aria-label': gettext('目标路线')},
                state.data.routes.map((r) => el('option', {value: r.id, selected: r.id === route.id, text: routeLabel(r)})));
            const position = el('input', {name: 'position', type: 'number', min: 1, step: 1, value: 1, 'aria-label': gettext('位置')});
            return el('form', {class: 'move-form', hidden: true, onsubmit: (event) => {
                event.preventDefault();
                move(stop, Number(select.value), Number(position.value), item);
            }}, [
                el('label', {}, [gettext('移到'), select]),
                el('label', {}, [gettext('第'), position, gettext('位')]),
                el('button', {type: 'submit', class: 'small primary', text: gettext('移动')})
            ]);
        }

        function resultForm(stop, item) {
            const check = (name, label, checked) => el('label', {class: 'inline-check'}, [el('input', {type: 'checkbox', name, checked}), label]);
            const form = el('form', {class: 'result-form', hidden: true}, [
                check('visited', gettext('已到场'), true),
                el('label', {class: 'block'}, [gettext('发现的问题'),
                    el('textarea', {name: 'findings', rows: 2, maxlength: 4000, placeholder: gettext('如：维保记录缺失')})]),
                el('div', {class: 'row'}, [check('order_issued', gettext('下达监察指令'), false),
                    el('input', {name: 'order_number', type: 'text', maxlength: 40, placeholder: gettext('指令书编号'), 'aria-label': gettext('指令书编号')})]),
                check('sealed', gettext('已查封'), false),
                el('button', {type: 'submit', class: 'small primary', text: gettext('保存结果')})
            ]);
            async function save(otherDay) {
                const f = form.elements;
                try {
                    await api(url('result', stop.id), {body: {
                        visited: f.visited.checked, findings: f.findings.value, order_issued: f.order_issued.checked,
                        order_number: f.order_number.value, sealed: f.sealed.checked, other_day: otherDay
                    }});
                    await load();
                    highlight(stop.id, true);
                } catch (error) {
                    const problems = problemsOf(error);
                    stopProblems(item, problems);
                    // A stop of another day's list: said first, recorded once the inspector confirms.
                    if (problems.some((p) => p.rule === 'on.other_day')) {
                        $('.stop-errors', item).append(el('button', {type: 'button', class: 'small primary', 'data-confirm': 'other_day',
                            text: gettext('确认是该点，仍然记录'), onclick: () => save(true)}));
                    }
                }
            }
            form.addEventListener('submit', (event) => {
                event.preventDefault();
                save(false);
            });
            return form;
        }

        function resultLine(result) {
            const facts = [result.visited ? gettext('已到场') : gettext('未到场')];
            if (result.order_issued) {
                facts.push(interpolate(gettext('监察指令 %(n)s'), {n: result.order_number || ''}, true).trim());
            }
            if (result.sealed) {
                facts.push(gettext('已查封'));
            }
            return el('div', {class: 'result'}, [
                el('b', {text: facts.join(' · ')}),
                result.findings ? el('p', {class: 'findings', text: result.findings}) : null,
                el('small', {class: 'muted', text: `${result.recorded_by} · ${TIME.format(new Date(result.recorded_at))}`})
            ]);
        }

        function stopItem(stop, route, colour) {
            const item = el('li', {class: 'stop', 'data-stop': stop.id, 'data-sequence': stop.sequence});
            const device = stop.equipment;
            const recorded = Boolean(stop.result);
            const buttons = [];
            const forms = [];
            if (config.may_plan && !recorded) {
                const moveBox = moveForm(stop, route, item);
                forms.push(moveBox);
                buttons.push(
                    el('button', {type: 'button', class: 'small', text: gettext('↑ 上移'), disabled: stop.sequence === 1,
                        onclick: () => move(stop, route.id, stop.sequence - 1, item)}),
                    el('button', {type: 'button', class: 'small', text: gettext('↓ 下移'), disabled: stop.sequence === route.stops.length,
                        onclick: () => move(stop, route.id, stop.sequence + 1, item)}),
                    el('button', {type: 'button', class: 'small', text: gettext('移到…'), 'data-action': 'move',
                        onclick: () => { moveBox.hidden = !moveBox.hidden; }}));
            }
            if (!recorded) {
                const resultBox = resultForm(stop, item);
                forms.push(resultBox);
                buttons.push(el('button', {type: 'button', class: 'small', text: gettext('记录结果'), 'data-action': 'result',
                    onclick: () => { resultBox.hidden = !resultBox.hidden; }}));
            }
            const reasons = (stop.reasons || []).map((r) => el('li', {text: `+${r.points} ${r.detail}`}));
            item.append(...[
                el('div', {class: 'stop-head'}, [
                    el('button', {type: 'button', class: 'seq', style: `background:${colour}`, text: stopLabel(route, stop),
                        title: gettext('在地图上显示'), onclick: () => {
                            highlight(stop.id, false);
                            if (stop.location) {
                                map.easeTo({center: stop.location, zoom: Math.max(map.getZoom(), 13)});
                            }
                        }}),
                    el('span', {class: 'clock', text: clock(stop.arrival_minutes)}),
                    el('a', {class: 'code', href: url('equipment_page', device.id), text: device.device_code || device.registration_code || `#${device.id}`}),
                    el('span', {class: 'score', title: gettext('风险分'), text: interpolate(gettext('%(n)s 分'), {n: stop.score}, true)}),
                    stop.pinned ? el('span', {class: 'tag', text: gettext('必去')}) : null
                ]),
                el('div', {class: 'address', text: device.address || '—'}),
                reasons.length ? el('details', {class: 'reasons'}, [el('summary', {text: gettext('评分依据')}), el('ul', {}, reasons)]) : null,
                recorded ? resultLine(stop.result) : null,
                buttons.length ? el('div', {class: 'stop-actions'}, buttons) : null,
                ...forms,
                el('div', {class: 'stop-errors form-errors', role: 'alert', hidden: true})
            ].filter(Boolean));
            return item;
        }

        function routeBox(route) {
            const colour = teamColour(route.team);
            // The day's length: the working minutes and, when the day has one, the break.
            const length = route.working_minutes + (route.break_at_minutes === null ? 0 : route.break_minutes);
            const over = route.total_minutes > length;
            return el('section', {class: 'route', 'data-route': route.id, style: `--day:${colour}`}, [
                el('h3', {}, [el('i', {class: 'swatch', style: `background:${colour}`}), el('span', {class: 'route-title', text: routeLabel(route)}),
                    el('small', {class: over ? 'minutes error' : 'minutes muted',
                        text: interpolate(gettext('%(n)s 分钟'), {n: `${Math.round(route.total_minutes)} / ${length}`}, true)})]),
                el('p', {class: 'route-facts muted'}, [
                    `${interpolate(ngettext('%(n)s 个点 · 路上 %(travel)s · 现场 %(site)s 分钟', '%(n)s 个点 · 路上 %(travel)s · 现场 %(site)s 分钟', route.stops.length), {n: route.stops.length, travel: Math.round(route.travel_minutes), site: Math.round(route.service_minutes)}, true)} · `,
                    route.break_at_minutes === null ? null : el('span', {class: 'break', text: `${interpolate(gettext('午休 %(t)s'), {t: `${clock(route.break_at_minutes)}–${clock(route.break_at_minutes + route.break_minutes)}`}, true)} · `}),
                    el('a', {href: url('sheet', route.id), target: '_blank', class: 'sheet-link', text: gettext('打印单')}), ' · ',
                    el('a', {href: `${config.urls.gpx}?route=${route.id}`, download: true, text: 'GPX'})
                ]),
                el('ol', {class: 'stops'}, route.stops.map((stop) => stopItem(stop, route, colour)))
            ]);
        }

        async function mark(candidate, flags, item) {
            try {
                await api(url('candidate', candidate.id), {method: 'PATCH', body: flags});
                await load();
            } catch (error) {
                showProblems($('.stop-errors', item), problemsOf(error));
            }
        }

        function unscheduledItem(candidate) {
            const device = candidate.equipment;
            const item = el('li', {class: 'candidate', 'data-candidate': candidate.id}, [
                el('span', {class: 'tag', text: `#${candidate.rank}`}),
                el('a', {href: url('equipment_page', device.id), text: device.device_code || `#${device.id}`}),
                ` · ${interpolate(gettext('%(n)s 分'), {n: candidate.score}, true)}`,
                candidate.pinned ? el('span', {class: 'tag pinned', text: gettext('必去')}) : null,
                el('span', {class: 'more', text: device.address || '—'}),
                !device.location ? el('span', {class: 'more error', text: gettext('无坐标，不能排线')}) : null
            ]);
            if (config.may_plan) {
                item.append(el('div', {class: 'stop-actions'}, [
                    el('button', {type: 'button', class: 'small', 'data-action': 'pin', text: candidate.pinned ? gettext('取消必去') : gettext('必去'),
                        onclick: () => mark(candidate, {pinned: !candidate.pinned}, item)}),
                    el('button', {type: 'button', class: 'small secondary', 'data-action': 'drop', text: gettext('不去'),
                        onclick: () => mark(candidate, {dropped: true}, item)})
                ]), el('div', {class: 'stop-errors form-errors', role: 'alert', hidden: true}));
            }
            return item;
        }

        function render() {
            const data = state.data;
            state.days = Array.from(new Set(data.routes.map((r) => r.day))).sort();
            renderSummary();
            $('#routes').replaceChildren(...(data.routes.length
                ? data.routes.map(routeBox)
                : [el('p', {class: 'muted', text: gettext('没有路线')})]));
            $('#unscheduled').replaceChildren(...data.unscheduled.map(unscheduledItem));
            $('#unscheduled-count').textContent = data.unscheduled.length;
            drawMap();
        }

        async function load() {
            try {
                state.data = await api(config.urls.routes);
                showProblems(errorBox, []);
                render();
            } catch (error) {
                showProblems(errorBox, problemsOf(error));
            }
        }

        const reoptimise = $('#reoptimise');
        if (reoptimise) {
            reoptimise.title = gettext('从今天起重新安排尚未巡查的检查点，已记录结果的点不动；手工调整将被覆盖');
            reoptimise.addEventListener('click', async() => {
                reoptimise.disabled = true;
                reoptimise.textContent = gettext('正在优化…');
                try {
                    state.data = await api(config.urls.reoptimise, {method: 'POST'});
                    showProblems(errorBox, []);
                    render();
                } catch (error) {
                    showProblems(errorBox, problemsOf(error));
                } finally {
                    reoptimise.disabled = false;
                    reoptimise.textContent = gettext('重新优化');
                }
            });
        }
        load();
    }

    if (config.page === 'plans') {
        plansPage();
    } else {
        planPage();
    }
}());
