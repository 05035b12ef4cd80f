'use strict';
// What the page scripts of the console, the patrol pages and the export page share: building
// elements, calling the JSON API (with the page's CSRF token), reading its 400s, and the offline
// base map's style layers (our own region outlines: no tile server, no internet).
const SegisPage = (function() {
    const EMPTY = {type: 'FeatureCollection', features: []};
    const CHINA = [[73.5, 18.0], [135.1, 53.6]];

    function csrf() {
        return (document.querySelector('input[name=csrfmiddlewaretoken]') || {}).value || '';
    }

    function el(tag, attrs, children) {
        const node = document.createElement(tag);
        Object.entries(attrs || {}).forEach(([key, value]) => {
            if (value === undefined || value === null || value === false) {
                return;
            }
            if (key === 'text') {
                node.textContent = value;
            } else if (key.startsWith('on')) {
                node.addEventListener(key.slice(2), value);
            } else {
                node.setAttribute(key, value === true ? '' : value);
            }
        });
        (children || []).forEach((child) => child !== null && child !== undefined && child !== false && node.append(child));
        return node;
    }

    class ApiError extends Error {
        constructor(status, body) {
            super(`HTTP ${status}`);
            this.status = status;
            this.body = body || {};
        }
    }

    // JSON in and out; a `body` is sent as JSON with POST unless a method is given.
    async function api(path, options) {
        const init = {credentials: 'same-origin', headers: {Accept: 'application/json'}, cache: 'no-store', ...(options || {})};
        if (init.body !== undefined) {
            init.method = init.method || 'POST';
            init.headers = {...init.headers, 'Content-Type': 'application/json', 'X-CSRFToken': csrf()};
            init.body = JSON.stringify(init.body);
        } else if (init.method && init.method !== 'GET') {
            init.headers = {...init.headers, 'X-CSRFToken': csrf()};
        }
        const response = await fetch(path, init);
        const body = await response.json().catch(() => ({}));
        if (!response.ok) {
            throw new ApiError(response.status, body);
        }
        return body;
    }

    // Every API's error envelope {errors: {field: [{rule, message, suggestion}]}} as a flat list of
    // {field, rule, message, suggestion}. A 404 says why it may be missing; a 403's message stands
    // without its field (it is about the user, not an input).
    function problemsOf(error) {
        const body = error.body || {};
        if (error.status === 404) {
            return [{field: '', rule: 'not_found', message: gettext('未找到，或不在您的辖区'), suggestion: ''}];
        }
        const problems = [];
        Object.entries(body.errors || {}).forEach(([field, list]) => {
            (Array.isArray(list) ? list : [list]).forEach((p) => {
                const item = typeof p === 'string' ? {message: p} : (p || {});
                problems.push({
                    field: error.status === 403 ? '' : field,
                    rule: item.rule || (error.status === 403 ? 'forbidden' : ''),
                    message: item.message || JSON.stringify(p),
                    suggestion: item.suggestion || ''
                });
            });
        });
        if (!problems.length) {
            const message = error.status === 403 ? gettext('无权操作') : interpolate(gettext('请求失败（%(why)s）'), {why: error.status || error.message}, true);
            problems.push({field: '', rule: error.status === 403 ? 'forbidden' : '', message, suggestion: ''});
        }
        return problems;
    }

    // A problem's message, with the accepted value it suggests when there is one.
    function problemText(problem) {
        return problem.suggestion ? `${problem.message} (${interpolate(gettext('建议：%(s)s'), {s: problem.suggestion}, true)})` : problem.message;
    }

    // The offline base map under a page's own layers: land, county and city lines, the jurisdiction.
    function basemapLayers() {
        return [
            {id: 'background', type: 'background', paint: {'background-color': '#dfe7ee'}},
            {id: 'land', type: 'fill', source: 'basemap', filter: ['==', ['get', 'outer'], true], paint: {'fill-color': '#fbf8ef'}},
            {id: 'county-lines', type: 'line', source: 'basemap', filter: ['==', ['get', 'level'], 'county'],
                paint: {'line-color': '#a89f92', 'line-width': 0.8, 'line-dasharray': [3, 2]}},
            {id: 'city-lines', type: 'line', source: 'basemap', filter: ['==', ['get', 'level'], 'city'],
                paint: {'line-color': '#8a7a66', 'line-width': 1.2}},
            {id: 'jurisdiction-line', type: 'line', source: 'basemap', filter: ['==', ['get', 'outer'], true],
                paint: {'line-color': '#0b4f8a', 'line-width': 2, 'line-opacity': 0.75}}
        ];
    }

    return {EMPTY, CHINA, el, ApiError, api, problemsOf, problemText, basemapLayers};
})();
