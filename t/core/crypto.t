# ca_crypto.c: the cmocka unit tests in t/unit/test_crypto.c, reported as TAP.
use strict;
use warnings;
use CATest;
CATest::run_unit('test_crypto');
