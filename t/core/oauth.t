# ca_oauth.c: the cmocka unit tests in t/unit/test_oauth.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_oauth');
