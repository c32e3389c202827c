# ca_logspool.c: the cmocka unit tests in t/unit/test_logspool.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_logspool');
