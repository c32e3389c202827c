# ca_store.c: the cmocka unit tests in t/unit/test_store.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_store');
