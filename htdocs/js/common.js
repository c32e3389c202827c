/* Shared helpers of the dashboard pages: calls to the dashboard's JSON API (with the CSRF
 * token), plain-word error messages, DOM building without innerHTML. */
(function (global) {
    'use strict';

    function apiBase() {
        var meta = document.querySelector('meta[name="ca-dashboard-api"]');
        var base = meta && meta.getAttribute('content');
        return (base || '/dashboard/api').replace(/\/+$/, '');
    }

    function cookie(name) {
        var parts = document.cookie ? document.cookie.split(';') : [];
        for (var i = 0; i < parts.length; i++) {
            var p = parts[i].trim();
            var eq = p.indexOf('=');
            if (eq > 0 && p.slice(0, eq) === name) {
                return decodeURIComponent(p.slice(eq + 1));
            }
        }
        return null;
    }

    /* One call: resolves to {status, ok, data, retryAfter}; never rejects on HTTP errors. */
    function call(method, path, body) {
        var headers = { 'Accept': 'application/json' };
        var init = { method: method, credentials: 'same-origin', headers: headers,
                     cache: 'no-store' };
        if (method !== 'GET' && method !== 'HEAD') {
            var token = cookie('ca_csrf');
            if (token) {
                headers['X-CSRF-Token'] = token;
            }
        }
        if (body !== undefined) {
            headers['Content-Type'] = 'application/json';
            init.body = JSON.stringify(body);
        }
        return fetch(apiBase() + path, init).then(function (res) {
            return res.text().then(function (text) {
                var data = null;
                try {
                    data = text ? JSON.parse(text) : null;
                } catch (e) {
                    data = null;
                }
                return { status: res.status, ok: res.ok, data: data,
                         retryAfter: res.headers.get('Retry-After') };
            });
        }, function () {
            return { status: 0, ok: false, data: null, retryAfter: null };
        });
    }

    function minutes(seconds) {
        var m = Math.ceil(Number(seconds || 0) / 60);
        return m <= 1 ? 'a minute' : m + ' minutes';
    }

    /* A problem answer in plain words. */
    function message(res) {
        var d = res.data || {};
        switch (res.status) {
        case 0:
            return 'The server could not be reached. Check your connection and try again.';
        case 401:
            if (d.code === 'login_failed') {
                return 'The email address or password is not correct.';
            }
            return 'You are signed out (your session may have ended). Please sign in again.';
        case 403:
            if (d.code === 'csrf_failed') {
                return 'This page is out of date. Reload it and try again.';
            }
            if (d.code === 'account_disabled') {
                return 'This account is disabled. Ask an administrator.';
            }
            if (d.code === 'password_incorrect') {
                return 'The current password is not correct.';
            }
            return 'You are not allowed to do this.';
        case 404:
            return 'This item does not exist (any more), or it is not yours.';
        case 409:
            return d.detail ? capital(d.detail) + '.' : 'This cannot be changed right now.';
        case 413:
            return 'What you sent is too large.';
        case 429:
            return 'Too many attempts. Please wait ' + minutes(res.retryAfter) +
                   ' and try again.';
        case 503:
            return 'The service is unavailable right now. Please try again in a moment.';
        default:
            if (res.status >= 500) {
                return 'Something went wrong on the server' +
                       (d.request_id ? ' (reference ' + d.request_id + ')' : '') +
                       '. Please try again later.';
            }
            return d.detail ? capital(d.detail) + '.' : 'The request was not accepted.';
        }
    }

    function capital(s) {
        s = String(s);
        return s.charAt(0).toUpperCase() + s.slice(1);
    }

    /* el('td', {className: 'num'}, 'text' | Node | [children]) */
    function el(tag, props, children) {
        var node = document.createElement(tag);
        if (props) {
            Object.keys(props).forEach(function (k) {
                if (k === 'text') {
                    node.textContent = props[k];
                } else if (k === 'attrs') {
                    Object.keys(props.attrs).forEach(function (a) {
                        node.setAttribute(a, props.attrs[a]);
                    });
                } else if (k === 'on') {
                    Object.keys(props.on).forEach(function (ev) {
                        node.addEventListener(ev, props.on[ev]);
                    });
                } else {
                    node[k] = props[k];
                }
            });
        }
        append(node, children);
        return node;
    }

    function append(node, children) {
        if (children === undefined || children === null) {
            return node;
        }
        if (!Array.isArray(children)) {
            children = [children];
        }
        children.forEach(function (c) {
            if (c === null || c === undefined || c === false) {
                return;
            }
            node.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
        });
        return node;
    }

    function clear(node) {
        while (node.firstChild) {
            node.removeChild(node.firstChild);
        }
        return node;
    }

    function fmtTime(sec) {
        if (sec === null || sec === undefined) {
            return '\u2013';
        }
        var d = new Date(sec * 1000);
        return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric',
                                             hour: '2-digit', minute: '2-digit' });
    }

    /* Show a message in a live region: kind 'error' | 'success' | 'warning' | '' */
    function notice(node, text, kind) {
        clear(node);
        node.className = 'notice' + (kind ? ' ' + kind : '');
        if (!text) {
            node.classList.add('hidden');
            return;
        }
        node.appendChild(el('p', { text: text }));
        node.classList.remove('hidden');
    }

    /* A same-site path to go to after signing in, or the dashboard. */
    function safeNext(value) {
        if (value && /^\/(?!\/)[A-Za-z0-9_\-./?=&%]*$/.test(value) && value.indexOf('\\') < 0) {
            return value;
        }
        return '/dashboard.html';
    }

    global.CA = {
        apiBase: apiBase, cookie: cookie, call: call, message: message, el: el,
        append: append, clear: clear, fmtTime: fmtTime, notice: notice, safeNext: safeNext
    };
})(window);
