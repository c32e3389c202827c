# ca_scope.c: the cmocka unit tests in t/unit/test_scope.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_scope');
