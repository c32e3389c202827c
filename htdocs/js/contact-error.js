/* The contact form's error page: says why, from the fixed reason code in the address. */
(function () {
    'use strict';

    var texts = {
        invalid_name: 'Your name was missing or too long (at most 200 characters).',
        invalid_email: 'The email address was not complete. It should look like name@example.com.',
        invalid_company: 'The company name was too long (at most 200 characters).',
        invalid_message: 'The message was missing, too long (at most 5000 characters), or ' +
                         'contained characters that are not allowed.',
        invalid_form: 'The form was not filled in as expected.',
        too_large: 'The message was too large.',
        rate_limited: 'You have sent several messages already. Please try again in an hour.',
        storage_unavailable: 'The service could not store your message right now.',
        server_error: 'Something went wrong on our side.'
    };
    var reason = new URLSearchParams(window.location.search).get('reason');
    var node = document.getElementById('error-reason');
    if (node && reason && Object.prototype.hasOwnProperty.call(texts, reason)) {
        node.textContent = texts[reason];
    }
})();
