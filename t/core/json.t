# ca_json.c: the cmocka unit tests in t/unit/test_json.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_json');
