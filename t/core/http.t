# ca_http.c: the cmocka unit tests in t/unit/test_http.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_http');
