/* The dashboard page: endpoints (create, key shown once, deactivate, activate, reissue,
 * delete), connections, request log, usage, and for admins the audit trail and contact
 * messages. Everything goes through the dashboard JSON API (CA.call); text from the server
 * is only ever put into the page as text, never as HTML. */
(function () {
    'use strict';

    var el = CA.el;
    var $ = function (id) { return document.getElementById(id); };
    var state = { me: null, admin: false, endpoints: [], connections: [], providers: {},
                  logsCursor: null, auditBefore: null, messagesBefore: null };
    var pageMessage = $('page-message');

    /* ---- common ------------------------------------------------------------------- */

    function signedOut() {
        window.location.assign('/login.html?expired=1&next=/dashboard.html');
    }

    /* A call whose failure is shown in `box` (or the page message); resolves to the data
     * or null. */
    function api(method, path, body, box) {
        return CA.call(method, path, body).then(function (res) {
            if (res.status === 401) {
                signedOut();
                return null;
            }
            if (!res.ok) {
                CA.notice(box || pageMessage, CA.message(res), 'error');
                (box || pageMessage).setAttribute('tabindex', '-1');
                return null;
            }
            return res.data || {};
        });
    }

    function say(text, kind) {
        CA.notice(pageMessage, text, kind || 'success');
    }

    function toEpoch(value) {
        if (!value) {
            return null;
        }
        var t = new Date(value).getTime();
        return isNaN(t) ? NaN : Math.floor(t / 1000);
    }

    function badge(text, cls) {
        return el('span', { className: 'badge ' + (cls || text), text: text });
    }

    function scopeText(ep) {
        if (ep.scope_kind === 'client') {
            return [el('span', { text: 'Client ' + (ep.client_name || ep.client_id) }),
                    el('br'),
                    el('span', { className: 'muted',
                                 text: ep.client_id + ' of ' + (ep.company_name || ep.company_id) })];
        }
        return [el('span', { text: 'Company ' + (ep.company_name || ep.company_id) }), el('br'),
                el('span', { className: 'muted', text: ep.company_id })];
    }

    /* ---- confirmation dialog -------------------------------------------------------- */

    var confirmDialog = $('confirm-dialog');

    function confirmAction(title, text, okLabel, withGrace) {
        if (typeof confirmDialog.showModal !== 'function') {
            return Promise.resolve({ ok: window.confirm(title + '\n\n' + text), grace: 0 });
        }
        $('confirm-title').textContent = title;
        $('confirm-text').textContent = text;
        $('confirm-ok').textContent = okLabel;
        $('confirm-grace').classList.toggle('hidden', !withGrace);
        $('confirm-grace-select').value = '0';
        confirmDialog.returnValue = 'cancel';
        return new Promise(function (resolve) {
            confirmDialog.addEventListener('close', function onClose() {
                confirmDialog.removeEventListener('close', onClose);
                resolve({ ok: confirmDialog.returnValue === 'ok',
                          grace: Number($('confirm-grace-select').value) });
            });
            confirmDialog.showModal();
            $('confirm-cancel').focus();
        });
    }

    /* ---- tabs ----------------------------------------------------------------------- */

    var tabs = Array.prototype.slice.call(document.querySelectorAll('[role="tab"]'));
    var loaders = {};

    function visibleTabs() {
        return tabs.filter(function (t) { return !t.classList.contains('hidden'); });
    }

    function selectTab(tab, focus) {
        tabs.forEach(function (t) {
            var on = t === tab;
            t.setAttribute('aria-selected', on ? 'true' : 'false');
            t.tabIndex = on ? 0 : -1;
            $(t.getAttribute('aria-controls')).hidden = !on;
        });
        if (focus) {
            tab.focus();
        }
        if (loaders[tab.id]) {
            loaders[tab.id]();
        }
    }

    tabs.forEach(function (tab) {
        tab.addEventListener('click', function () { selectTab(tab, false); });
        tab.addEventListener('keydown', function (ev) {
            var list = visibleTabs();
            var i = list.indexOf(tab);
            var next = null;
            if (ev.key === 'ArrowRight') {
                next = list[(i + 1) % list.length];
            } else if (ev.key === 'ArrowLeft') {
                next = list[(i - 1 + list.length) % list.length];
            } else if (ev.key === 'Home') {
                next = list[0];
            } else if (ev.key === 'End') {
                next = list[list.length - 1];
            }
            if (next) {
                ev.preventDefault();
                selectTab(next, true);
            }
        });
    });

    /* ---- endpoints ------------------------------------------------------------------ */

    function loadEndpoints() {
        return api('GET', '/endpoints').then(function (data) {
            if (!data) {
                return;
            }
            state.endpoints = data.data || [];
            renderEndpoints();
            fillEndpointSelects();
        });
    }

    function actionButton(label, cls, handler, disabledWhy) {
        var b = el('button', { type: 'button', className: 'small ' + cls, text: label });
        if (disabledWhy) {
            b.disabled = true;
            b.title = disabledWhy;
        } else {
            b.addEventListener('click', handler);
        }
        return b;
    }

    function renderEndpoints() {
        var body = CA.clear(document.querySelector('#endpoints-table tbody'));
        $('endpoints-empty').classList.toggle('hidden', state.endpoints.length > 0);
        state.endpoints.forEach(function (ep) {
            var locked = ep.read_only ? 'Declared in httpd.conf: change it there' : null;
            var actions = el('div', { className: 'actions' }, [
                ep.status === 'active'
                    ? actionButton('Deactivate', 'secondary', function () { setStatus(ep, 'deactivate'); }, locked)
                    : actionButton('Activate', 'secondary', function () { setStatus(ep, 'activate'); }, locked),
                actionButton('Reissue key', 'secondary', function () { reissue(ep); }, locked),
                actionButton('Delete', 'danger', function () { removeEndpoint(ep); }, locked),
                actionButton('Log', 'secondary', function () { showLogsFor(ep.id); }, null)
            ]);
            body.appendChild(el('tr', null, [
                el('td', null, [el('strong', { text: ep.name }), el('br'),
                                el('code', { className: 'mono', text: ep.id }),
                                ep.read_only ? [el('br'), badge('httpd.conf', 'config')] : null,
                                state.admin && ep.owner_email
                                    ? [el('br'), el('span', { className: 'muted', text: ep.owner_email })]
                                    : null].flat()),
                el('td', null, scopeText(ep)),
                el('td', { text: ep.provider_name || ep.provider }),
                el('td', { text: ep.access_mode }),
                el('td', null, [badge(ep.status),
                                ep.expires_at ? [el('br'), el('span', { className: 'muted',
                                    text: 'until ' + CA.fmtTime(ep.expires_at) })] : null].flat()),
                el('td', null, el('code', { className: 'mono', text: ep.key_hint || 'none' })),
                el('td', { text: ep.last_used_at ? CA.fmtTime(ep.last_used_at) : 'never' }),
                el('td', null, actions)
            ]));
        });
    }

    function setStatus(ep, what) {
        var deact = what === 'deactivate';
        confirmAction(deact ? 'Deactivate this endpoint?' : 'Activate this endpoint?',
                      deact ? 'Callers of "' + ep.name + '" get 403 until you activate it again. ' +
                              'The key stays the same.'
                            : 'Callers of "' + ep.name + '" can use its current key again.',
                      deact ? 'Deactivate' : 'Activate', false).then(function (c) {
            if (!c.ok) {
                return;
            }
            api('POST', '/endpoints/' + encodeURIComponent(ep.id) + '/' + what).then(function (d) {
                if (d) {
                    say('"' + ep.name + '" is ' + (deact ? 'deactivated.' : 'active again.'));
                    loadEndpoints();
                }
            });
        });
    }

    function reissue(ep) {
        confirmAction('Reissue the key?',
                      'A new key is made for "' + ep.name + '" and shown once. Choose how long ' +
                      'the current key keeps working, so that callers can switch.',
                      'Reissue key', true).then(function (c) {
            if (!c.ok) {
                return;
            }
            api('POST', '/endpoints/' + encodeURIComponent(ep.id) + '/reissue',
                { grace_seconds: c.grace }).then(function (d) {
                if (d) {
                    showKey(d.key, d.endpoint.url);
                    say(c.grace ? 'New key made. The old key works until ' +
                                  CA.fmtTime(d.previous_key_expires_at) + '.'
                                : 'New key made. The old key has stopped working.');
                    loadEndpoints();
                }
            });
        });
    }

    function removeEndpoint(ep) {
        confirmAction('Delete this endpoint?',
                      '"' + ep.name + '" and its keys are deleted for good; callers get 401. ' +
                      'Its request log stays until the log retention removes it.',
                      'Delete endpoint', false).then(function (c) {
            if (!c.ok) {
                return;
            }
            api('DELETE', '/endpoints/' + encodeURIComponent(ep.id)).then(function (d) {
                if (d) {
                    say('"' + ep.name + '" is deleted.');
                    loadEndpoints();
                }
            });
        });
    }

    /* ---- the key, shown once -------------------------------------------------------- */

    function showKey(key, url) {
        $('key-value').value = key;
        $('key-url').textContent = url || '';
        $('key-copied').textContent = '';
        $('key-box').classList.remove('hidden');
        selectTab($('tab-endpoints'), false);
        $('key-box').focus();
        $('key-value').select();
    }

    $('key-copy').addEventListener('click', function () {
        var input = $('key-value');
        var done = function () { $('key-copied').textContent = 'Copied to the clipboard.'; };
        var fallback = function () {
            input.select();
            try {
                document.execCommand('copy');
                done();
            } catch (e) {
                $('key-copied').textContent = 'Select the key and copy it with your keyboard.';
            }
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
            navigator.clipboard.writeText(input.value).then(done, fallback);
        } else {
            fallback();
        }
    });

    $('key-done').addEventListener('click', function () {
        $('key-value').value = '';
        $('key-url').textContent = '';
        $('key-box').classList.add('hidden');
        $('endpoints-title').focus();
    });

    /* ---- create --------------------------------------------------------------------- */

    var form = $('create-form');
    var createMessage = $('create-message');

    function scopeKind() {
        return form.querySelector('input[name="scope_kind"]:checked').value;
    }

    Array.prototype.forEach.call(form.querySelectorAll('input[name="scope_kind"]'), function (r) {
        r.addEventListener('change', function () {
            var client = scopeKind() === 'client';
            $('client-fields').classList.toggle('hidden', !client);
            $('create-client-id').required = client;
        });
    });

    form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var body = {
            connection_id: Number($('create-connection').value),
            scope_kind: scopeKind(),
            company_id: $('create-company-id').value.trim(),
            company_name: $('create-company-name').value.trim(),
            access_mode: form.querySelector('input[name="access_mode"]:checked').value
        };
        var problems = [];
        if (!body.connection_id) {
            problems.push('Choose a provider connection (connect one first).');
        }
        if (!body.company_id) {
            problems.push('Enter the company id.');
        }
        if (!body.company_name) {
            problems.push('Enter the company name.');
        }
        if (body.scope_kind === 'client') {
            body.client_id = $('create-client-id').value.trim();
            if (!body.client_id) {
                problems.push('Enter the client id.');
            }
            if ($('create-client-name').value.trim()) {
                body.client_name = $('create-client-name').value.trim();
            }
        }
        if ($('create-name').value.trim()) {
            body.name = $('create-name').value.trim();
        }
        if ($('create-expires').value) {
            body.expires_at = toEpoch($('create-expires').value);
            if (isNaN(body.expires_at) || body.expires_at <= Date.now() / 1000) {
                problems.push('"Valid until" must be in the future.');
            }
        }
        if ($('create-ip-allow').value.trim()) {
            body.ip_allow = $('create-ip-allow').value.trim();
        }
        if (problems.length) {
            CA.notice(createMessage, problems.join(' '), 'error');
            createMessage.setAttribute('tabindex', '-1');
            createMessage.focus();
            return;
        }
        CA.notice(createMessage, '', '');
        $('create-submit').disabled = true;
        api('POST', '/endpoints', body, createMessage).then(function (d) {
            $('create-submit').disabled = false;
            if (!d) {
                createMessage.focus();
                return;
            }
            form.reset();
            $('client-fields').classList.add('hidden');
            say('Endpoint "' + d.endpoint.name + '" created.');
            showKey(d.key, d.url);
            loadEndpoints();
        });
    });

    /* ---- connections and providers -------------------------------------------------- */

    function loadConnections() {
        return Promise.all([api('GET', '/connections'), api('GET', '/providers')]).then(function (r) {
            var conns = r[0], provs = r[1];
            if (provs) {
                var list = CA.clear($('providers-list'));
                (provs.data || []).forEach(function (p) {
                    state.providers[p.name] = p;
                    list.appendChild(el('li', null, actionButton(
                        'Connect ' + p.display_name + (p.auth_mode === 'api_key' ? ' (API key)' : ''),
                        'secondary', function () { connectProvider(p); }, null)));
                });
            }
            if (!conns) {
                return;
            }
            state.connections = conns.data || [];
            var body = CA.clear(document.querySelector('#connections-table tbody'));
            $('connections-empty').classList.toggle('hidden', state.connections.length > 0);
            state.connections.forEach(function (c) {
                body.appendChild(el('tr', null, [
                    el('td', { text: String(c.id) }),
                    el('td', { text: c.provider_name }),
                    el('td', null, [el('span', { text: c.account_label || '' }), el('br'),
                                    el('span', { className: 'muted', text: c.account_id || '' })]),
                    el('td', { text: c.auth_mode }),
                    el('td', null, badge(c.status)),
                    el('td', { text: c.expires_at ? CA.fmtTime(c.expires_at) : '\u2013' }),
                    el('td', { className: 'num', text: String(c.endpoint_count) }),
                    el('td', { className: 'admin-only' + (state.admin ? '' : ' hidden'),
                               text: c.owner_email || '' }),
                    el('td', null, c.status === 'disconnected' ? null : el('div', { className: 'actions' }, [
                        actionButton('Renew', 'secondary', function () { renewConnection(c); }, null),
                        actionButton('Disconnect', 'danger', function () { disconnect(c); }, null)
                    ]))
                ]));
            });
            var sel = CA.clear($('create-connection'));
            var usable = state.connections.filter(function (c) { return c.status !== 'disconnected'; });
            if (!usable.length) {
                sel.appendChild(el('option', { value: '', text: 'No connection yet' }));
            }
            usable.forEach(function (c) {
                sel.appendChild(el('option', { value: String(c.id),
                    text: c.provider_name + ' \u2013 ' + (c.account_label || c.account_id || 'account') +
                          ' (#' + c.id + (state.admin && c.owner_email ? ', ' + c.owner_email : '') + ')' }));
            });
        });
    }

    /* Connecting, renewing and disconnecting are answered by the connection routes
     * ({api}/connections/...). */
    var apikeyDialog = $('apikey-dialog');
    var apikeyProvider = null;

    function connectProvider(p) {
        if (p.auth_mode === 'api_key') {
            apikeyProvider = p;
            $('apikey-provider').textContent = p.display_name;
            $('apikey-form').reset();
            CA.notice($('apikey-message'), '', '');
            if (typeof apikeyDialog.showModal === 'function') {
                apikeyDialog.showModal();
                $('apikey-value').focus();
            }
            return;
        }
        api('POST', '/connections/' + encodeURIComponent(p.name) + '/start', {}).then(function (d) {
            if (d && d.authorize_url && /^https?:\/\//.test(d.authorize_url)) {
                window.location.assign(d.authorize_url);
            }
        });
    }

    $('apikey-cancel').addEventListener('click', function () { apikeyDialog.close(); });
    $('apikey-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        var key = $('apikey-value').value.trim();
        var box = $('apikey-message');
        if (!key) {
            CA.notice(box, 'Paste the API key first.', 'error');
            return;
        }
        api('POST', '/connections/' + encodeURIComponent(apikeyProvider.name) + '/apikey',
            { api_key: key }, box).then(function (d) {
            $('apikey-value').value = '';
            if (d) {
                apikeyDialog.close();
                say(apikeyProvider.display_name + ' is connected.');
                loadConnections();
            }
        });
    });

    function renewConnection(c) {
        api('POST', '/connections/' + c.id + '/refresh', {}).then(function (d) {
            if (d) {
                say('The connection to ' + c.provider_name + ' was renewed.');
                loadConnections();
            }
        });
    }

    function disconnect(c) {
        confirmAction('Disconnect this provider account?',
                      'The stored tokens or key of ' + c.provider_name + ' (' +
                      (c.account_label || c.account_id || 'account') + ') are deleted and its ' +
                      'endpoints stop answering. You can connect it again later.',
                      'Disconnect', false).then(function (r) {
            if (!r.ok) {
                return;
            }
            api('DELETE', '/connections/' + c.id).then(function (d) {
                if (d) {
                    say(c.provider_name + ' is disconnected.');
                    loadConnections();
                    loadEndpoints();
                }
            });
        });
    }

    /* The OAuth callback comes back with #connections?result=...&reason=... */
    function connectResult() {
        var m = /^#connections\?(.*)$/.exec(window.location.hash || '');
        if (!m) {
            return;
        }
        var q = new URLSearchParams(m[1]);
        var result = q.get('result');
        if (result === 'connected') {
            say('The provider account is connected.');
        } else if (result === 'denied') {
            say('The provider account was not connected: access was not granted at the provider.',
                'warning');
        } else {
            say('The provider account could not be connected' +
                (q.get('reason') ? ' (' + q.get('reason') + ')' : '') + '. Please try again.',
                'error');
        }
        if (window.history && window.history.replaceState) {
            window.history.replaceState(null, '', window.location.pathname);
        }
        selectTab($('tab-connections'), false);
    }

    /* ---- request log ---------------------------------------------------------------- */

    function fillEndpointSelects() {
        ['logs-endpoint', 'usage-endpoint'].forEach(function (id) {
            var sel = $(id);
            var keep = sel.value;
            CA.clear(sel).appendChild(el('option', { value: '', text: 'All' }));
            state.endpoints.forEach(function (ep) {
                sel.appendChild(el('option', { value: ep.id, text: ep.name + ' (' + ep.id + ')' }));
            });
            sel.value = keep;
            if (sel.value !== keep) {
                sel.value = '';
            }
        });
    }

    function logQuery(cursor) {
        var f = $('logs-form');
        var q = new URLSearchParams();
        ['endpoint', 'status', 'method'].forEach(function (n) {
            if (f.elements[n].value) {
                q.set(n, f.elements[n].value);
            }
        });
        if (f.elements.resource.value.trim()) {
            q.set('resource', f.elements.resource.value.trim().toLowerCase());
        }
        var since = toEpoch(f.elements.since.value), until = toEpoch(f.elements.until.value);
        if (since) {
            q.set('since', String(since));
        }
        if (until) {
            q.set('until', String(until));
        }
        if (cursor) {
            q.set('cursor', cursor);
        }
        q.set('limit', '50');
        return '/logs?' + q.toString();
    }

    function loadLogs(more) {
        var box = $('logs-message');
        CA.notice(box, '', '');
        return api('GET', logQuery(more ? state.logsCursor : null), undefined, box).then(function (d) {
            var body = document.querySelector('#logs-table tbody');
            if (!more) {
                CA.clear(body);
            }
            if (!d) {
                return;
            }
            (d.data || []).forEach(function (l) {
                body.appendChild(el('tr', null, [
                    el('td', { text: CA.fmtTime(l.ts) }),
                    el('td', null, el('code', { className: 'mono', text: l.endpoint_id })),
                    el('td', { text: l.method }),
                    el('td', { text: (l.resource || '') + (l.record_id ? ' / ' + l.record_id : '') }),
                    el('td', { className: 'num' }, badge(String(l.status), 's' + String(l.status).charAt(0))),
                    el('td', { className: 'num', text: l.item_count === null ? '' : String(l.item_count) }),
                    el('td', { className: 'num', text: (Math.round(l.duration_ms * 10) / 10).toString() }),
                    el('td', { text: l.error_code || '' }),
                    el('td', null, actionButton('Details', 'secondary', function () { showLog(l.id); }, null))
                ]));
            });
            state.logsCursor = d.next_cursor;
            $('logs-more').classList.toggle('hidden', !d.next_cursor);
            $('logs-empty').classList.toggle('hidden', body.children.length > 0);
        });
    }

    function showLogsFor(epId) {
        $('logs-endpoint').value = epId;
        selectTab($('tab-logs'), true);
    }

    $('logs-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        loadLogs(false);
    });
    $('logs-more').addEventListener('click', function () { loadLogs(true); });

    var logDialog = $('log-dialog');

    function showLog(id) {
        api('GET', '/logs/' + encodeURIComponent(id)).then(function (d) {
            if (!d) {
                return;
            }
            var l = d.log;
            var dl = CA.clear($('log-detail'));
            [['Time', CA.fmtTime(l.ts)], ['Endpoint', l.endpoint_id], ['Method', l.method],
             ['Resource', l.resource], ['Record', l.record_id], ['Status', l.status],
             ['Items', l.item_count], ['Duration', l.duration_ms + ' ms'], ['Query', l.query],
             ['Error', l.error_code], ['Error detail', l.error_detail],
             ['Caller address', l.client_ip], ['User agent', l.user_agent],
             ['Request id', l.request_id]].forEach(function (row) {
                if (row[1] === null || row[1] === undefined || row[1] === '') {
                    return;
                }
                dl.appendChild(el('dt', { text: row[0] }));
                dl.appendChild(el('dd', { text: String(row[1]) }));
            });
            if (typeof logDialog.showModal === 'function') {
                logDialog.showModal();
                $('log-close').focus();
            }
        });
    }
    $('log-close').addEventListener('click', function () { logDialog.close(); });

    /* ---- usage ---------------------------------------------------------------------- */

    var SVG = 'http://www.w3.org/2000/svg';

    function loadUsage() {
        var f = $('usage-form');
        var parts = f.elements.range.value.split('/');
        var until = Math.floor(Date.now() / 1000) + 1;
        var q = new URLSearchParams({ since: String(until - Number(parts[0])),
                                      until: String(until), bucket: parts[1] });
        if (f.elements.endpoint.value) {
            q.set('endpoint', f.elements.endpoint.value);
        }
        var box = $('usage-message');
        CA.notice(box, '', '');
        return api('GET', '/usage?' + q.toString(), undefined, box).then(function (d) {
            if (!d) {
                return;
            }
            var t = d.totals;
            $('usage-summary').textContent = t.requests + ' requests, ' + t.errors_4xx +
                ' caller errors (4xx), ' + t.errors_5xx + ' server errors (5xx), ' + t.items +
                ' records returned.' + (d.percentiles ? '' : ' Too many requests in this range ' +
                'for response-time percentiles: choose a shorter one.');
            drawChart(d.series || []);
            var body = CA.clear(document.querySelector('#usage-table tbody'));
            (d.series || []).filter(function (s) { return s.requests > 0; }).forEach(function (s) {
                body.appendChild(el('tr', null, [
                    el('td', { text: CA.fmtTime(s.t) }),
                    el('td', { className: 'num', text: String(s.requests) }),
                    el('td', { className: 'num', text: String(s.errors_4xx) }),
                    el('td', { className: 'num', text: String(s.errors_5xx) }),
                    el('td', { className: 'num', text: String(s.items) }),
                    el('td', { className: 'num', text: s.p50_ms === null ? '' : String(s.p50_ms) }),
                    el('td', { className: 'num', text: s.p95_ms === null ? '' : String(s.p95_ms) })
                ]));
            });
            if (!body.children.length) {
                body.appendChild(el('tr', null, el('td', { colSpan: 7, className: 'muted',
                                                           text: 'No requests in this range.' })));
            }
        });
    }

    function drawChart(series) {
        var svg = $('usage-chart');
        Array.prototype.slice.call(svg.querySelectorAll('rect')).forEach(function (r) { r.remove(); });
        var max = 1;
        series.forEach(function (s) { max = Math.max(max, s.requests); });
        var w = 1000 / Math.max(series.length, 1);
        series.forEach(function (s, i) {
            var h = 190 * s.requests / max;
            var eh = 190 * (s.errors_4xx + s.errors_5xx) / max;
            var bar = document.createElementNS(SVG, 'rect');
            bar.setAttribute('class', 'bar');
            bar.setAttribute('x', String(i * w + w * 0.1));
            bar.setAttribute('width', String(Math.max(w * 0.8, 1)));
            bar.setAttribute('y', String(200 - h));
            bar.setAttribute('height', String(h));
            svg.appendChild(bar);
            if (eh > 0) {
                var err = document.createElementNS(SVG, 'rect');
                err.setAttribute('class', 'bar err');
                err.setAttribute('x', String(i * w + w * 0.1));
                err.setAttribute('width', String(Math.max(w * 0.8, 1)));
                err.setAttribute('y', String(200 - eh));
                err.setAttribute('height', String(eh));
                svg.appendChild(err);
            }
        });
    }

    $('usage-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        loadUsage();
    });

    /* ---- audit trail (admins) ------------------------------------------------------- */

    function loadAudit(more) {
        var q = '/audit?limit=50' + (more && state.auditBefore ? '&before=' + state.auditBefore : '');
        return api('GET', q).then(function (d) {
            var body = document.querySelector('#audit-table tbody');
            if (!more) {
                CA.clear(body);
            }
            if (!d) {
                return;
            }
            (d.data || []).forEach(function (e) {
                body.appendChild(el('tr', null, [
                    el('td', { text: CA.fmtTime(e.created_at) }),
                    el('td', { text: e.actor_email || 'system / configuration' }),
                    el('td', { text: e.action }),
                    el('td', { text: (e.target_kind || '') + ' ' + (e.target_id || '') }),
                    el('td', { text: e.detail || '' }),
                    el('td', { text: e.ip || '' })
                ]));
            });
            state.auditBefore = d.next_before;
            $('audit-more').classList.toggle('hidden', !d.next_before);
        });
    }
    $('audit-more').addEventListener('click', function () { loadAudit(true); });

    /* ---- contact messages (admins) -------------------------------------------------- */

    function loadMessages(more) {
        var q = '/contact-messages?limit=50' +
                (more && state.messagesBefore ? '&before=' + state.messagesBefore : '');
        return api('GET', q).then(function (d) {
            var body = document.querySelector('#messages-table tbody');
            if (!more) {
                CA.clear(body);
            }
            if (!d) {
                return;
            }
            (d.data || []).forEach(function (m) {
                var lines = String(m.message).split('\n');
                var text = el('div');
                lines.forEach(function (line, i) {
                    if (i) {
                        text.appendChild(el('br'));
                    }
                    text.appendChild(document.createTextNode(line));
                });
                body.appendChild(el('tr', null, [
                    el('td', { text: CA.fmtTime(m.created_at) }),
                    el('td', null, [el('span', { text: m.name }), el('br'),
                                    el('a', { href: 'mailto:' + encodeURIComponent(m.email).replace(/%40/g, '@'),
                                              text: m.email })]),
                    el('td', { text: m.company || '' }),
                    el('td', null, text),
                    el('td', { text: m.handled_at ? CA.fmtTime(m.handled_at) : 'no' }),
                    el('td', null, el('div', { className: 'actions' }, [
                        actionButton(m.handled_at ? 'Mark unhandled' : 'Mark handled', 'secondary',
                                     function () { markMessage(m, !m.handled_at); }, null),
                        actionButton('Delete', 'danger', function () { deleteMessage(m); }, null)
                    ]))
                ]));
            });
            state.messagesBefore = d.next_before;
            $('messages-more').classList.toggle('hidden', !d.next_before);
            $('messages-empty').classList.toggle('hidden', body.children.length > 0);
        });
    }

    function markMessage(m, handled) {
        api('POST', '/contact-messages/' + m.id + '/handled', { handled: handled }).then(function (d) {
            if (d) {
                loadMessages(false);
            }
        });
    }

    function deleteMessage(m) {
        confirmAction('Delete this message?', 'The message from ' + m.name + ' is deleted for good.',
                      'Delete message', false).then(function (c) {
            if (c.ok) {
                api('DELETE', '/contact-messages/' + m.id).then(function (d) {
                    if (d) {
                        say('Message deleted.');
                        loadMessages(false);
                    }
                });
            }
        });
    }
    $('messages-more').addEventListener('click', function () { loadMessages(true); });

    /* ---- account -------------------------------------------------------------------- */

    $('sign-out').addEventListener('click', function () {
        CA.call('POST', '/logout').then(function () {
            window.location.assign('/login.html?signed_out=1');
        });
    });

    var pwDialog = $('password-dialog');
    $('password-open').addEventListener('click', function () {
        $('password-form').reset();
        CA.notice($('password-message'), '', '');
        if (typeof pwDialog.showModal === 'function') {
            pwDialog.showModal();
            $('pw-current').focus();
        }
    });
    $('password-cancel').addEventListener('click', function () { pwDialog.close(); });
    $('password-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        var box = $('password-message');
        var cur = $('pw-current').value, nw = $('pw-new').value;
        if (!cur || !nw) {
            CA.notice(box, 'Enter your current and your new password.', 'error');
            return;
        }
        if (nw.length < 10) {
            CA.notice(box, 'The new password needs at least 10 characters.', 'error');
            return;
        }
        if (nw !== $('pw-repeat').value) {
            CA.notice(box, 'The two new passwords are not the same.', 'error');
            return;
        }
        api('POST', '/password', { current: cur, new: nw }, box).then(function (d) {
            if (d) {
                pwDialog.close();
                say('Your password is changed. Your other sessions were signed out.');
            }
        });
    });

    /* ---- start ---------------------------------------------------------------------- */

    loaders['tab-logs'] = function () { loadLogs(false); };
    loaders['tab-usage'] = function () { loadUsage(); };
    loaders['tab-connections'] = function () { loadConnections(); };
    loaders['tab-audit'] = function () { loadAudit(false); };
    loaders['tab-messages'] = function () { loadMessages(false); };

    api('GET', '/me').then(function (d) {
        if (!d) {
            return;
        }
        state.me = d.user;
        state.admin = d.user.role === 'admin';
        $('user-email').textContent = d.user.email;
        $('user-role').textContent = d.user.role;
        $('user-role').classList.remove('hidden');
        if (state.admin) {
            $('tab-audit').classList.remove('hidden');
            $('tab-messages').classList.remove('hidden');
            Array.prototype.forEach.call(document.querySelectorAll('.admin-only'), function (n) {
                n.classList.remove('hidden');
            });
        }
        loadConnections();
        loadEndpoints();
        connectResult();
    });
})();
