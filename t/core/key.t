# ca_key.c: the cmocka unit tests in t/unit/test_key.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_key');
