# ca_conn.c: the cmocka unit tests in t/unit/test_conn.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_conn');
