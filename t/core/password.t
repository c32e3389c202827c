# ca_password.c: the cmocka unit tests in t/unit/test_password.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_password');
