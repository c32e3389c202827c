# ca_openapi.c: the cmocka unit tests in t/unit/test_openapi.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_openapi');
