/* Sign-in page: POST {email, password} to the dashboard API, then go to the dashboard. */
(function () {
    'use strict';

    var form = document.getElementById('login-form');
    var msg = document.getElementById('login-message');
    var button = document.getElementById('login-submit');
    var params = new URLSearchParams(window.location.search);

    if (params.get('deleted')) {
        CA.notice(msg, 'Your account is deleted. Thank you for using the service.', 'success');
    } else if (params.get('signed_out')) {
        CA.notice(msg, 'You are signed out.', 'success');
    } else if (params.get('expired')) {
        CA.notice(msg, 'Your session has ended. Please sign in again.', 'warning');
    }

    /* the sign-up link only where the server takes sign-ups */
    CA.call('GET', '/signup').then(function (res) {
        if (res.ok && res.data && res.data.open) {
            document.getElementById('signup-open').classList.remove('hidden');
            document.getElementById('signup-closed').classList.add('hidden');
        }
    });

    form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var email = form.elements.email.value.trim();
        var password = form.elements.password.value;
        if (!email || !password) {
            CA.notice(msg, 'Enter your email address and your password.', 'error');
            (email ? form.elements.password : form.elements.email).focus();
            return;
        }
        button.disabled = true;
        CA.notice(msg, '', '');
        CA.call('POST', '/login', { email: email, password: password }).then(function (res) {
            button.disabled = false;
            if (res.ok) {
                form.elements.password.value = '';
                window.location.assign(CA.safeNext(params.get('next')));
                return;
            }
            CA.notice(msg, CA.message(res), 'error');
            form.elements.password.value = '';
            form.elements.password.focus();
        });
    });
})();
