'use strict';
// The import pages: /imports/ (a file dropped on the upload form) and /imports/<id>/ (map the
// columns, dry run, follow the job, read the report page by page, commit). Everything the job
// page does goes through the JSON API under /api/imports/<id>/.
(function() {
    const $ = (selector, root) => (root || document).querySelector(selector);
    const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
    const NUMBER = new Intl.NumberFormat('zh-CN');
    const POLL_MS = 700;
    const SEVERITY = {error: gettext('错误'), warning: gettext('警告')};
    const LAYERS_RULE = 'gpkg.layers';  // intake's notice of a GeoPackage with several layers

    // ------------------------------------------------------------------ the upload form

    const upload = $('#upload-form');
    if (upload) {
        const zone = $('#dropzone');
        const input = $('#upload-file');
        const showName = () => {
            $('#upload-name').textContent = input.files.length ? input.files[0].name : '';
            zone.classList.toggle('chosen', input.files.length > 0);
        };
        input.addEventListener('change', showName);
        ['dragenter', 'dragover'].forEach((name) => zone.addEventListener(name, (event) => {
            event.preventDefault();
            zone.classList.add('over');
        }));
        ['dragleave', 'drop'].forEach((name) => zone.addEventListener(name, () => zone.classList.remove('over')));
        zone.addEventListener('drop', (event) => {
            event.preventDefault();
            if (event.dataTransfer.files.length) {
                input.files = event.dataTransfer.files;
                showName();
            }
        });
        upload.addEventListener('submit', () => {
            $('#upload-button').disabled = true;
            $('#upload-button').textContent = gettext('正在上传…');
        });
    }

    // ------------------------------------------------------------------ the job page

    const view = $('#import-job');
    if (!view) {
        return;
    }
    const config = JSON.parse($('#import-config').textContent);
    const urls = config.job.urls;
    const form = $('#mapping-form');
    let job = config.job;
    let page = 1;
    // Every column seen: with no layer picked the page gets every layer's, so a refused layer
    // change can still offer the columns of the layer being picked.
    const seen = new Set(job.columns);

    function showErrors(problems) {
        const box = $('#mapping-errors');
        box.replaceChildren(...problems.map((p) => SegisPage.el('p', {class: 'error', 'data-rule': p.rule},
            [p.field ? SegisPage.el('b', {text: `${p.field}: `}) : null, p.message,
                p.suggestion ? SegisPage.el('span', {class: 'muted', text: ` (${p.suggestion})`}) : null])));
        box.hidden = problems.length === 0;
    }

    // The layers a user may pick: the gpkg.layers notice's suggestion ("a, b, c"), the one place
    // the API names them.
    function layersOf(described) {
        const notice = (described.notices || []).find((n) => n.rule === LAYERS_RULE);
        return notice ? notice.suggestion.split(', ').filter(Boolean) : [];
    }

    // A file with several layers: its layer is chosen from a list, not typed.
    function offerLayers() {
        const layers = layersOf(job);
        const input = form.elements.layer;
        if (!layers.length || !input || input.tagName === 'SELECT') {
            return;
        }
        const select = SegisPage.el('select', {name: 'layer', id: 'layer-select', required: true}, [
            SegisPage.el('option', {value: '', text: gettext('— 请选择图层')}),
            ...layers.map((name) => SegisPage.el('option', {value: name, text: name})),
        ]);
        select.value = layers.includes(job.layer) ? job.layer : '';
        input.replaceWith(select);
        const field = $('#layer-field');
        $('.map-label', field).replaceChildren(gettext('图层'),
            SegisPage.el('b', {class: 'req', title: gettext('必填'), text: '*'}));
        field.classList.add('required');
        const hint = $('#layer-choices');
        if (hint) {
            hint.textContent = interpolate(gettext('文件有 %(n)s 个图层；选择后各列表只列出该图层的列'), {n: layers.length}, true);
        }
        select.addEventListener('change', async() => {
            // Saved at once: the answer brings the layer's own columns, before any dry run.
            if (select.value && !await save()) {
                offerColumns([...seen]);
                $('#mapping-errors').scrollIntoView({block: 'nearest'});  // below the lists on a phone
            }
        });
    }

    // Every column list offers `columns`, keeping each element's column where it still exists.
    function offerColumns(columns, mapping) {
        $$('select[data-element]', form).forEach((select) => {
            const keep = (mapping || {})[select.dataset.element] || select.value;
            select.replaceChildren(select.options[0],
                ...columns.map((column) => SegisPage.el('option', {value: column, text: column})));
            select.value = columns.includes(keep) ? keep : '';
        });
    }

    // Record the mapping (with the layer): the answer holds the columns of the layer it read.
    async function save() {
        showErrors([]);
        const data = chosen();
        if (layersOf(job).length && !data.layer) {
            showErrors([{field: 'layer', rule: 'layer', message: gettext('文件有多个图层，请选择一个'), suggestion: layersOf(job).join(', ')}]);
            return false;
        }
        try {
            job = await SegisPage.api(urls.mapping, {body: data});
        } catch (error) {
            showErrors(SegisPage.problemsOf(error));
            return false;
        }
        job.columns.forEach((column) => seen.add(column));
        offerColumns(job.columns, job.mapping);
        $('#fact-columns').textContent = String(job.columns.length);
        $('#fact-crs').textContent = job.layer_crs || gettext('未声明');
        render();
        return true;
    }

    function chosen() {
        const mapping = {};
        $$('select[data-element]', form).forEach((select) => {
            if (select.value) {
                mapping[select.dataset.element] = select.value;
            }
        });
        const data = {mapping, source_crs: form.elements.source_crs.value};
        if (form.elements.layer) {
            data.layer = form.elements.layer.value;
        }
        if (form.elements.encoding) {
            data.encoding = form.elements.encoding.value;
        }
        return data;
    }

    const running = () => config.running.includes(job.state);

    function render() {
        view.dataset.state = job.state;
        $('#job-state').textContent = job.state_label;
        $('#job-state').className = `job-state state-${job.state}`;
        const busy = running();
        $('#dry-run-button').disabled = busy || job.state === 'committed';
        $$('select, input', form).forEach((node) => { node.disabled = busy || job.state === 'committed'; });
        const box = $('#progress-box');
        box.hidden = !busy;
        const bar = $('#job-progress');
        if (busy) {
            const total = job.rows_total;
            if (total) {
                bar.max = Math.max(total, 1);
                bar.value = job.rows_done;
            } else {
                bar.removeAttribute('value');  // indeterminate: the reader does not know the count
            }
            const what = job.state === 'committing' ? gettext('入库中') : (job.state === 'queued' ? gettext('排队中') : gettext('校验中'));
            $('#job-count').textContent = `${what} · ${interpolate(ngettext('%(n)s 行', '%(n)s 行', total || job.rows_done), {n: `${NUMBER.format(job.rows_done)}${total ? ` / ${NUMBER.format(total)}` : ''}`}, true)}`;
        }
        $('#job-error').textContent = job.error || '';
        const summary = job.summary || {};
        const reported = 'rows' in summary && !busy;
        $('#report').hidden = !reported;
        if (!reported) {
            return;
        }
        $('#fact-rows').textContent = NUMBER.format(summary.rows);
        $$('[data-count]').forEach((node) => { node.textContent = NUMBER.format(summary[node.dataset.count] || 0); });
        const headline = $('#headline');
        headline.hidden = job.state !== 'committed';
        headline.textContent = job.state === 'committed' ? interpolate(gettext('已入库：%(h)s'), {h: job.headline}, true) : '';
        const commit = $('#commit-button');
        commit.disabled = !job.may_commit;
        commit.hidden = job.state === 'committed';
        $('#commit-hint').textContent = job.state === 'committed' ? '' : (job.may_commit
            ? interpolate(gettext('将写入：%(h)s'), {h: job.headline}, true) : job.commit_refusal);
    }

    async function loadFindings() {
        const severity = $('#severity-filter').value;
        const query = new URLSearchParams({page: String(page)});
        if (severity) {
            query.set('severity', severity);
        }
        const body = await SegisPage.api(`${urls.findings}?${query}`);
        const rows = body.results.map((f) => SegisPage.el('tr', {class: `severity-${f.severity}`, 'data-row': f.row}, [
            SegisPage.el('td', {class: 'num', text: String(f.row)}),
            SegisPage.el('td', {text: f.column}),
            SegisPage.el('td', {class: 'value', text: f.value}),
            SegisPage.el('td', {class: 'severity', text: SEVERITY[f.severity] || f.severity}),
            SegisPage.el('td', {}, [SegisPage.el('code', {text: f.rule})]),
            SegisPage.el('td', {text: f.message}),
            SegisPage.el('td', {class: 'muted', text: f.suggestion}),
        ]));
        $('#findings tbody').replaceChildren(...rows);
        $('#findings').hidden = rows.length === 0;
        $('#no-findings').hidden = rows.length > 0;
        const pages = Math.max(1, Math.ceil(body.count / 50));
        $('#pager').hidden = pages <= 1;
        $('#page-info').textContent = interpolate(gettext('第 %(a)s / %(b)s 页 · %(n)s 条'), {a: page, b: pages, n: NUMBER.format(body.count)}, true);
        $('#page-prev').disabled = !body.previous;
        $('#page-next').disabled = !body.next;
    }

    async function poll() {
        try {
            job = await SegisPage.api(urls.self);
        } catch (error) {
            showErrors(SegisPage.problemsOf(error));
            return;
        }
        render();
        if (running()) {
            setTimeout(poll, POLL_MS);
        } else if ('rows' in (job.summary || {})) {
            page = 1;
            await loadFindings();
        }
    }

    async function start(action) {
        showErrors([]);
        try {
            job = await SegisPage.api(action, {method: 'POST'});
        } catch (error) {
            showErrors(SegisPage.problemsOf(error));
            return;
        }
        render();
        setTimeout(poll, POLL_MS);
    }

    form.addEventListener('submit', async(event) => {
        event.preventDefault();
        showErrors([]);
        $('#dry-run-button').disabled = true;
        if (!await save()) {
            $('#dry-run-button').disabled = false;
            return;
        }
        await start(urls.validate);
    });
    $('#commit-button').addEventListener('click', () => start(urls.commit));
    $('#severity-filter').addEventListener('change', () => {
        page = 1;
        loadFindings();
    });
    $('#page-prev').addEventListener('click', () => {
        page = Math.max(1, page - 1);
        loadFindings();
    });
    $('#page-next').addEventListener('click', () => {
        page += 1;
        loadFindings();
    });
    offerLayers();
    render();
    if (running()) {
        setTimeout(poll, POLL_MS);
    } else if ('rows' in (job.summary || {})) {
        loadFindings();
    }
}());
