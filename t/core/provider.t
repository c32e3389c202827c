# ca_provider.c: the cmocka unit tests in t/unit/test_provider.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_provider');
