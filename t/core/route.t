# ca_route.c: the cmocka unit tests in t/unit/test_route.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_route');
