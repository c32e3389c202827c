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
            $('client-pick').classList.toggle('hidden', !client);
            $('create-client-id').required = client;
            if (client && $('create-company-id').value.trim()) {
                clientPicker.load($('create-company-id').value.trim());
            }
        });
    });

    /* ---- company and client pickers: the provider's own lists, paged, searchable ------ */

    /* A list of {id, name} from GET {api}/connections/{id}/companies[/{co}/clients]: pages
     * are loaded on demand (next_cursor), the search filters what is loaded. */
    function Picker(prefix, noun, nouns, onPick) {
        var self = this;
        this.items = [];
        this.cursor = null;
        this.path = null;
        this.chosen = null;
        this.seq = 0;
        this.list = $(prefix + '-options');
        this.search = $(prefix + '-search');
        this.more = $(prefix + '-more');
        this.message = $(prefix + '-pick-message');
        this.noun = noun;
        this.nouns = nouns;
        this.onPick = onPick;
        this.search.addEventListener('input', function () { self.render(); });
        this.search.addEventListener('keydown', function (ev) {
            if (ev.key === 'Enter') {
                /* Enter in the search picks the only match, never submits the form */
                ev.preventDefault();
                var shown = self.filtered();
                if (shown.length === 1) {
                    self.pick(shown[0]);
                }
            }
        });
        this.more.addEventListener('click', function () { self.page(); });
    }

    Picker.prototype.reset = function (text) {
        this.items = [];
        this.cursor = null;
        this.path = null;
        this.chosen = null;
        this.seq++;
        this.search.value = '';
        CA.clear(this.list);
        this.more.classList.add('hidden');
        this.message.textContent = text || '';
    };

    Picker.prototype.load = function (path) {
        this.reset('Loading the ' + this.noun + ' list from the provider…');
        this.path = path;
        return this.page();
    };

    Picker.prototype.page = function () {
        var self = this, seq = this.seq;
        var q = new URLSearchParams({ limit: '50' });
        if (this.cursor) {
            q.set('cursor', this.cursor);
        }
        this.more.disabled = true;
        return CA.call('GET', this.path + '?' + q.toString()).then(function (res) {
            if (seq !== self.seq) {
                return;        /* another connection or company was chosen meanwhile */
            }
            self.more.disabled = false;
            if (res.status === 401) {
                signedOut();
                return;
            }
            if (!res.ok) {
                self.more.classList.add('hidden');
                self.message.textContent = res.status === 404 || res.status === 501
                    ? 'This provider offers no ' + self.noun + ' list: type the id and name ' +
                      'below, as the provider shows them.'
                    : 'The ' + self.noun + ' list could not be loaded: ' + CA.message(res) +
                      ' You can also type the id and name below.';
                return;
            }
            self.items = self.items.concat((res.data && res.data.data) || []);
            self.cursor = res.data && res.data.next_cursor;
            self.more.classList.toggle('hidden', !self.cursor);
            self.render();
        });
    };

    Picker.prototype.filtered = function () {
        var needle = this.search.value.trim().toLowerCase();
        return this.items.filter(function (it) {
            return !needle || String(it.name || '').toLowerCase().indexOf(needle) >= 0 ||
                   String(it.id).toLowerCase().indexOf(needle) >= 0;
        });
    };

    Picker.prototype.render = function () {
        var self = this;
        var shown = this.filtered();
        CA.clear(this.list);
        shown.forEach(function (it) {
            var b = el('button', { type: 'button', className: 'small',
                                   text: (it.name || it.id) + ' (' + it.id + ')' });
            b.setAttribute('aria-pressed', self.chosen && self.chosen.id === it.id ? 'true' : 'false');
            b.addEventListener('click', function () { self.pick(it); });
            self.list.appendChild(el('li', null, b));
        });
        var n = this.items.length;
        this.message.textContent = !n ? 'The provider lists no ' + this.noun + ' here.'
            : shown.length + ' of ' + n + ' loaded ' + (n === 1 ? this.noun : this.nouns) +
              (this.search.value.trim() ? ' match' : '') +
              (this.cursor ? '; more can be loaded.' : '.') +
              (this.chosen ? ' Chosen: ' + (this.chosen.name || this.chosen.id) + '.' : '');
    };

    Picker.prototype.pick = function (it) {
        this.chosen = it;
        this.render();
        this.onPick(it);
    };

    var clientPicker = new Picker('client', 'client', 'clients', function (it) {
        $('create-client-id').value = it.id;
        $('create-client-name').value = it.name || '';
    });
    var companyPicker = new Picker('company', 'company', 'companies', function (it) {
        $('create-company-id').value = it.id;
        $('create-company-name').value = it.name || '';
        $('create-client-id').value = '';
        $('create-client-name').value = '';
        if (scopeKind() === 'client') {
            clientPicker.load(pickerBase() + '/companies/' + encodeURIComponent(it.id) + '/clients');
        } else {
            clientPicker.reset();
        }
    });

    function pickerBase() {
        return '/connections/' + encodeURIComponent($('create-connection').value);
    }

    function loadPickers() {
        clientPicker.reset();
        if (!$('create-connection').value) {
            companyPicker.reset('Connect a provider account first.');
            return;
        }
        companyPicker.load(pickerBase() + '/companies');
    }
    $('create-connection').addEventListener('change', loadPickers);

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
            var conn = $('create-connection').value;
            form.reset();
            $('create-connection').value = conn;
            $('client-fields').classList.add('hidden');
            $('client-pick').classList.add('hidden');
            loadPickers();
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
                    var how = p.auth_mode === 'api_key' ? 'API key'
                        : p.auth_mode === 'client_credentials' ? 'client credentials' : '';
                    list.appendChild(el('li', null, actionButton(
                        'Connect ' + p.display_name +
                            (how && p.display_name.toLowerCase().indexOf(how.toLowerCase()) < 0
                             ? ' (' + how + ')' : ''),
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
                                    el('span', { className: 'muted', text: c.account_id || '' }),
                                    c.scopes ? el('br') : null,
                                    c.scopes ? el('span', { className: 'muted',
                                                            text: 'Scopes: ' + c.scopes }) : null]),
                    el('td', { text: AUTH_WORDS[c.auth_mode] || c.auth_mode }),
                    el('td', null, connectionStatus(c)),
                    el('td', { text: c.expires_at ? CA.fmtTime(c.expires_at) : '\u2013' }),
                    el('td', { className: 'num', text: String(c.endpoint_count) }),
                    el('td', { className: 'admin-only' + (state.admin ? '' : ' hidden'),
                               text: c.owner_email || '' }),
                    el('td', null, el('div', { className: 'actions' }, [
                        c.status !== 'active' && state.providers[c.provider]
                            ? actionButton('Connect again', 'secondary',
                                           function () { connectProvider(state.providers[c.provider]); }, null)
                            : null,
                        c.status === 'active'
                            ? actionButton('Renew', 'secondary', function () { renewConnection(c); }, null)
                            : null,
                        c.status !== 'disconnected'
                            ? actionButton('Disconnect', 'danger', function () { disconnect(c); }, null)
                            : null
                    ]))
                ]));
            });
            var keepConn = $('create-connection').value;
            var sel = CA.clear($('create-connection'));
            var usable = state.connections.filter(function (c) { return c.status !== 'disconnected'; });
            if (!usable.length) {
                sel.appendChild(el('option', { value: '', text: 'No connection yet' }));
            }
            var before = sel.getAttribute('data-loaded');
            usable.forEach(function (c) {
                sel.appendChild(el('option', { value: String(c.id),
                    text: c.provider_name + ' \u2013 ' + (c.account_label || c.account_id || 'account') +
                          ' (#' + c.id + (state.admin && c.owner_email ? ', ' + c.owner_email : '') + ')' }));
            });
            if (keepConn) {
                sel.value = keepConn;
                if (sel.value !== keepConn) {
                    sel.selectedIndex = 0;
                }
            }
            if (before !== sel.value) {
                sel.setAttribute('data-loaded', sel.value);
                loadPickers();
            }
        });
    }

    var AUTH_WORDS = { oauth2: 'OAuth', api_key: 'API key', client_credentials: 'Client credentials' };

    /* ok / expiring (the access ends within a day and cannot renew itself: an API key or a
     * token without refresh) / reauthorization required / disconnected */
    function connectionStatus(c) {
        if (c.status === 'reauthorization_required') {
            return badge('reauthorization required', 'reauthorization_required');
        }
        if (c.status !== 'active') {
            return badge(c.status);
        }
        if (c.expires_at && c.expires_at - Date.now() / 1000 < 86400 && c.auth_mode === 'api_key') {
            return badge('expiring', 'inactive');
        }
        return badge('ok', 'active');
    }

    /* Connecting, renewing and disconnecting are answered by the connection routes
     * ({api}/connections/...). The form of a provider is built from its connect_fields
     * (GET {api}/providers): an API key, or client credentials with whatever fields the
     * provider file asks for (a tenant id, ...), so a new provider needs no change here. */
    var connectDialog = $('connect-dialog');
    var connectWith = null;

    function connectProvider(p) {
        var fields = p.connect_fields || [];
        if (p.auth_mode === 'api_key' || p.auth_mode === 'client_credentials') {
            if (!fields.length) {
                /* client credentials of the server's own OAuth client: nothing to ask */
                submitConnect(p, {}, pageMessage);
                return;
            }
            connectWith = p;
            $('connect-provider').textContent = p.display_name;
            $('connect-intro').textContent = p.auth_mode === 'api_key'
                ? 'Paste the API key that ' + p.display_name + ' gave you.'
                : 'Enter the client credentials that ' + p.display_name + ' gave you.';
            CA.notice($('connect-message'), '', '');
            var box = CA.clear($('connect-fields'));
            fields.forEach(function (f) {
                var id = 'connect-f-' + f.name;
                box.appendChild(el('div', { className: 'field' }, [
                    el('label', { htmlFor: id, text: f.label || f.name }),
                    el('input', { id: id, name: f.name, type: f.secret ? 'password' : 'text',
                                  required: true, maxLength: f.secret ? 4096 : 255,
                                  autocomplete: 'off', spellcheck: false })
                ]));
            });
            if (typeof connectDialog.showModal === 'function') {
                connectDialog.showModal();
                var first = box.querySelector('input');
                if (first) {
                    first.focus();
                }
            }
            return;
        }
        api('POST', '/connections/' + encodeURIComponent(p.name) + '/start', {}).then(function (d) {
            if (d && d.authorize_url && /^https?:\/\//.test(d.authorize_url)) {
                window.location.assign(d.authorize_url);
            }
        });
    }

    function submitConnect(p, body, box) {
        var path = p.auth_mode === 'api_key' ? '/apikey' : '/credentials';
        $('connect-submit').disabled = true;
        return api('POST', '/connections/' + encodeURIComponent(p.name) + path, body, box)
            .then(function (d) {
                $('connect-submit').disabled = false;
                if (d) {
                    if (connectDialog.open) {
                        connectDialog.close();
                    }
                    say(p.display_name + (d.reconnected ? ' is connected again.' : ' is connected.'));
                    loadConnections();
                }
                return d;
            });
    }

    $('connect-cancel').addEventListener('click', function () { connectDialog.close(); });
    connectDialog.addEventListener('close', function () {
        /* no pasted secret stays in the page */
        CA.clear($('connect-fields'));
    });
    $('connect-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        var box = $('connect-message');
        var body = {}, missing = [];
        Array.prototype.forEach.call($('connect-fields').querySelectorAll('input'), function (i) {
            var v = i.value.trim();
            if (!v) {
                missing.push(i.labels && i.labels[0] ? i.labels[0].textContent : i.name);
            }
            body[i.name] = v;
        });
        if (missing.length) {
            CA.notice(box, 'Fill in: ' + missing.join(', ') + '.', 'error');
            return;
        }
        submitConnect(connectWith, body, box);
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

    /* Charts are drawn by uPlot (htdocs/vendor/, see docs/dashboard.md). The answer of
     * GET {api}/usage may lack some per-bucket fields (older servers, rollups without
     * percentiles): a chart whose numbers are all missing says so instead of drawing. */
    var charts = {};
    var lastSeries = null;

    function num(v) {
        return typeof v === 'number' && isFinite(v) ? v : null;
    }

    function hasField(series, name) {
        return series.some(function (s) { return num(s[name]) !== null; });
    }

    function hasKey(series, name) {
        return series.some(function (s) { return Object.prototype.hasOwnProperty.call(s, name); });
    }

    function chartWidth(node) {
        return Math.max(200, Math.floor(node.clientWidth || node.parentNode.clientWidth || 300));
    }

    function drawChart(id, series, lines, note) {
        var node = $(id);
        if (charts[id]) {
            charts[id].destroy();
            delete charts[id];
        }
        CA.clear(node);
        var present = lines.filter(function (l) { return hasField(series, l.field); });
        if (!series.length || !present.length) {
            node.appendChild(el('p', { className: 'muted chart-note',
                                       text: note || 'No numbers for this chart in this range.' }));
            return;
        }
        if (typeof window.uPlot !== 'function') {
            node.appendChild(el('p', { className: 'muted chart-note',
                text: 'The chart library did not load; the table below has the numbers.' }));
            return;
        }
        var data = [series.map(function (s) { return s.t; })];
        var opts = {
            width: chartWidth(node), height: 200,
            cursor: { drag: { x: false, y: false } },
            scales: { x: { time: true },
                      y: { range: function (u, lo, hi) { return [0, Math.max(1, hi || 0)]; } } },
            axes: [{}, { size: 50 }],
            series: [{}]
        };
        present.forEach(function (l) {
            data.push(series.map(function (s) { return num(s[l.field]); }));
            opts.series.push({ label: l.label, stroke: l.color, width: 2, fill: l.fill,
                               points: { show: series.length <= 48 } });
        });
        charts[id] = new window.uPlot(opts, data, node);
    }

    function drawCharts(series) {
        lastSeries = series;
        drawChart('chart-requests', series,
                  [{ field: 'requests', label: 'Requests', color: '#1d5fbf',
                     fill: 'rgba(29, 95, 191, 0.12)' }]);
        drawChart('chart-errors', series,
                  [{ field: 'errors_4xx', label: '4xx', color: '#b26a00' },
                   { field: 'errors_5xx', label: '5xx', color: '#b3261e' }]);
        drawChart('chart-latency', series,
                  [{ field: 'p50_ms', label: 'p50', color: '#1e7b34' },
                   { field: 'p95_ms', label: 'p95', color: '#6b3fa0' }],
                  hasKey(series, 'p50_ms') || !series.length
                      ? 'No response times in this range.'
                      : 'This server does not report response-time percentiles per period.');
        drawChart('chart-items', series,
                  [{ field: 'items', label: 'Records', color: '#0f6e6e',
                     fill: 'rgba(15, 110, 110, 0.12)' }],
                  hasKey(series, 'items') || !series.length
                      ? null : 'This server does not report records per period.');
    }

    var resizeTimer = null;
    window.addEventListener('resize', function () {
        clearTimeout(resizeTimer);
        resizeTimer = setTimeout(function () {
            if (lastSeries && !$('panel-usage').hidden) {
                drawCharts(lastSeries);
            }
        }, 150);
    });

    function cell(v) {
        return num(v) === null ? '' : String(v);
    }

    /* the usage query of the form, or a sentence saying what is wrong with it */
    function usageQuery(f) {
        var now = Math.floor(Date.now() / 1000) + 1, q;
        if (f.elements.range.value !== 'custom') {
            var parts = f.elements.range.value.split('/');
            q = new URLSearchParams({ since: String(now - Number(parts[0])), until: String(now),
                                      bucket: parts[1] });
        }
        else {
            var since = toEpoch(f.elements.since.value);
            var until = f.elements.until.value ? toEpoch(f.elements.until.value) : now;
            if (!since) {
                return 'Choose when the range starts (From).';
            }
            if (isNaN(since) || isNaN(until)) {
                return 'That is not a date and time the page understands.';
            }
            if (until <= since) {
                return 'The range must end (Until) after it starts (From).';
            }
            q = new URLSearchParams({ since: String(since), until: String(until),
                                      bucket: f.elements.bucket.value });
        }
        if (f.elements.endpoint.value) {
            q.set('endpoint', f.elements.endpoint.value);
        }
        return q;
    }

    function loadUsage() {
        var f = $('usage-form');
        var box = $('usage-message');
        var q = usageQuery(f);
        if (typeof q === 'string') {
            CA.notice(box, q, 'error');
            return Promise.resolve();
        }
        CA.notice(box, '', '');
        return api('GET', '/usage?' + q.toString(), undefined, box).then(function (d) {
            if (!d) {
                return;
            }
            var t = d.totals || {};
            var series = Array.isArray(d.series) ? d.series : [];
            var said = [(num(t.requests) || 0) + ' requests'];
            if (num(t.errors_4xx) !== null) {
                said.push(t.errors_4xx + ' caller errors (4xx)');
            }
            if (num(t.errors_5xx) !== null) {
                said.push(t.errors_5xx + ' server errors (5xx)');
            }
            if (num(t.items) !== null) {
                said.push(t.items + ' records returned');
            }
            $('usage-summary').textContent = said.join(', ') + '.' +
                (d.percentiles === false ? ' Too many requests in this range for response-time ' +
                 'percentiles: choose a shorter one.' : '');
            drawCharts(series);
            var body = CA.clear(document.querySelector('#usage-table tbody'));
            series.filter(function (s) { return s.requests > 0; }).forEach(function (s) {
                body.appendChild(el('tr', null, [
                    el('td', { text: CA.fmtTime(s.t) }),
                    el('td', { className: 'num', text: cell(s.requests) }),
                    el('td', { className: 'num', text: cell(s.errors_4xx) }),
                    el('td', { className: 'num', text: cell(s.errors_5xx) }),
                    el('td', { className: 'num', text: cell(s.items) }),
                    el('td', { className: 'num', text: cell(s.p50_ms) }),
                    el('td', { className: 'num', text: cell(s.p95_ms) })
                ]));
            });
            if (!body.children.length) {
                body.appendChild(el('tr', null, el('td', { colSpan: 7, className: 'muted',
                                                           text: 'No requests in this range.' })));
            }
        });
    }

    $('usage-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        loadUsage();
    });
    $('usage-range').addEventListener('change', function () {
        var custom = this.value === 'custom';
        $('usage-custom').classList.toggle('hidden', !custom);
        if (custom && !$('usage-since').value) {
            $('usage-since').focus();
        }
    });

    /* ---- audit trail (admins) ------------------------------------------------------- */

    function loadAudit(more) {
        var f = $('audit-form'), box = $('audit-message');
        var q = new URLSearchParams({ limit: '50' });
        if (f.elements.target_kind.value) {
            q.set('target_kind', f.elements.target_kind.value);
        }
        if (f.elements.target_id.value.trim()) {
            q.set('target_id', f.elements.target_id.value.trim());
        }
        if (more && state.auditBefore) {
            q.set('before', String(state.auditBefore));
        }
        CA.notice(box, '', '');
        return api('GET', '/audit?' + q.toString(), undefined, box).then(function (d) {
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
            $('audit-empty').classList.toggle('hidden', body.children.length > 0);
            state.auditBefore = d.next_before;
            $('audit-more').classList.toggle('hidden', !d.next_before);
        });
    }
    $('audit-more').addEventListener('click', function () { loadAudit(true); });
    $('audit-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        loadAudit(false);
    });

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

    var accountDialog = $('account-dialog');
    $('account-delete-open').addEventListener('click', function () {
        $('account-form').reset();
        CA.notice($('account-message'), '', '');
        if (typeof accountDialog.showModal === 'function') {
            accountDialog.showModal();
            $('account-cancel').focus();
        }
    });
    $('account-cancel').addEventListener('click', function () { accountDialog.close(); });
    $('account-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        var box = $('account-message');
        var pw = $('account-password').value;
        if (!pw) {
            CA.notice(box, 'Enter your password to confirm.', 'error');
            return;
        }
        $('account-delete').disabled = true;
        CA.call('DELETE', '/account', { password: pw }).then(function (res) {
            $('account-delete').disabled = false;
            $('account-password').value = '';
            if (res.ok) {
                window.location.assign('/login.html?deleted=1');
                return;
            }
            CA.notice(box, res.data && res.data.code === 'password_incorrect'
                ? 'The password is not correct.' : CA.message(res), 'error');
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
