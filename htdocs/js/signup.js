/* Sign-up page: POST {email, password} to {api}/signup when the server takes sign-ups
 * (ClientAPISignup on), then go to the dashboard. */
(function () {
    'use strict';

    var form = document.getElementById('signup-form');
    var msg = document.getElementById('signup-message');
    var button = document.getElementById('signup-submit');

    function closed() {
        CA.notice(msg, 'This server does not take sign-ups. Ask an administrator for an account.',
                  'warning');
        button.disabled = true;
    }

    CA.call('GET', '/signup').then(function (res) {
        if (!res.ok || !res.data || !res.data.open) {
            closed();
        }
    });

    form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var email = form.elements.email.value.trim();
        var password = form.elements.password.value;
        if (!email || !password) {
            CA.notice(msg, 'Enter your email address and a password.', 'error');
            (email ? form.elements.password : form.elements.email).focus();
            return;
        }
        if (password.length < 10) {
            CA.notice(msg, 'The password needs at least 10 characters.', 'error');
            form.elements.password.focus();
            return;
        }
        if (password !== form.elements.repeat.value) {
            CA.notice(msg, 'The two passwords are not the same.', 'error');
            form.elements.repeat.focus();
            return;
        }
        button.disabled = true;
        CA.notice(msg, '', '');
        CA.call('POST', '/signup', { email: email, password: password }).then(function (res) {
            button.disabled = false;
            if (res.ok) {
                form.reset();
                window.location.assign('/dashboard.html');
                return;
            }
            if (res.data && res.data.code === 'signup_closed') {
                closed();
                return;
            }
            if (res.data && res.data.code === 'email_taken') {
                CA.notice(msg, 'There is already an account with this email address. ' +
                          'Sign in instead.', 'error');
                return;
            }
            CA.notice(msg, CA.message(res), 'error');
        });
    });
})();
