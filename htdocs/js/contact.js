/* Contact form: sent as JSON so that errors are shown next to the form and nothing typed is
 * lost; without JavaScript the form posts normally and the server redirects to the
 * thank-you or the error page. */
(function () {
    'use strict';

    var form = document.getElementById('contact-form');
    var msg = document.getElementById('contact-message');
    var button = document.getElementById('contact-submit');

    var reasons = {
        name: 'Please enter your name (at most 200 characters).',
        email: 'Please enter a complete email address, like name@example.com.',
        company: 'The company name can have at most 200 characters.',
        message: 'Please write a message (at most 5000 characters).'
    };

    function show(text) {
        CA.notice(msg, text, 'error');
        msg.focus();
    }

    form.addEventListener('submit', function (ev) {
        if (!window.fetch) {
            return; /* let the browser post the form */
        }
        ev.preventDefault();
        var data = {
            name: form.elements.name.value.trim(),
            email: form.elements.email.value.trim(),
            company: form.elements.company.value.trim() || null,
            message: form.elements.message.value
        };
        if (!data.name) {
            show(reasons.name);
            form.elements.name.focus();
            return;
        }
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(data.email)) {
            show(reasons.email);
            form.elements.email.focus();
            return;
        }
        if (!data.message.trim()) {
            show(reasons.message);
            form.elements.message.focus();
            return;
        }
        button.disabled = true;
        fetch(form.getAttribute('action'), {
            method: 'POST',
            credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
            body: JSON.stringify(data)
        }).then(function (res) {
            return res.text().then(function (t) {
                var j = null;
                try { j = JSON.parse(t); } catch (e) { j = null; }
                return { status: res.status, data: j,
                         retryAfter: res.headers.get('Retry-After') };
            });
        }, function () {
            return { status: 0, data: null };
        }).then(function (res) {
            button.disabled = false;
            if (res.status === 201) {
                window.location.assign('/thanks.html');
                return;
            }
            var detail = res.data && res.data.detail ? String(res.data.detail) : '';
            var field = Object.keys(reasons).filter(function (f) {
                return detail.indexOf(f) === 0;
            })[0];
            if (res.status === 400 && field) {
                show(reasons[field]);
                form.elements[field].focus();
            } else if (res.status === 429) {
                show('You have sent several messages already. Please try again in an hour.');
            } else if (res.status === 503 || res.status >= 500 || res.status === 0) {
                show('Your message could not be stored and was NOT sent. Please try again later.');
            } else if (res.status === 413) {
                show('The message is too long.');
            } else {
                show(CA.message(res));
            }
        });
    });
})();
