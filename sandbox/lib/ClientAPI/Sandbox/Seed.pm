package ClientAPI::Sandbox::Seed;
use Mojo::Base -strict, -signatures;

# Deterministic seed data. Every call to build() returns a fresh, identical
# data set; docs/sandbox.md documents it. Internal bookkeeping fields start
# with an underscore (_seq: insertion order used for paging, _account: the
# owning sandbox account) and never leave the server.

use ClientAPI::Sandbox::Util qw(iso8601);
use Time::Local qw(timegm);

sub _t ($y, $mo, $d, $h = 0, $mi = 0) { return timegm(0, $mi, $h, $d, $mo - 1, $y) }

our %USERS = (
    demo => {
        id         => 'usr_demo',
        login      => 'demo',
        name       => 'Demo User',
        email      => 'demo@example.com',
        account_id => 'acc_demo',
    },
    other => {
        id         => 'usr_other',
        login      => 'other',
        name       => 'Other User',
        email      => 'other@example.com',
        account_id => 'acc_other',
    },
);

our %ACCOUNTS = (
    acc_demo  => {id => 'acc_demo',  name => 'Demo Field Services'},
    acc_other => {id => 'acc_other', name => 'Other Field Co'},
);

# OAuth client registry. pkce: 'required' or 'optional'.
our %OAUTH_CLIENTS = (
    'sandbox-client' => {
        client_id       => 'sandbox-client',
        secret          => 'sandbox-secret',
        name            => 'Sandbox client (PKCE required)',
        pkce            => 'required',
        grants          => [qw(authorization_code refresh_token client_credentials)],
        service_account => 'acc_demo',
    },
    'sandbox-nopkce' => {
        client_id => 'sandbox-nopkce',
        secret    => 'nopkce-secret',
        name      => 'Sandbox client (PKCE optional)',
        pkce      => 'optional',
        grants    => [qw(authorization_code refresh_token)],
    },
);

our @SCOPES = qw(read write);

# Client Commander API keys -> user of that account
our %CC_KEYS = (
    'ccmd_live_demo_0123456789abcdef'  => 'usr_cc_demo_1',
    'ccmd_live_other_fedcba9876543210' => 'usr_cc_other_1',
);

my @COMPANIES = (
    {
        id       => 'co_acme',
        slug     => 'acme',
        name     => 'Acme Plumbing Ltd',
        account  => 'acc_demo',
        currency => 'USD',
        timezone => 'America/New_York',
        prefix   => 'ACME',
        clients  => [
            ['Alice Archer',     35],
            ['Bluebird Bakery',  3],
            ['Carlos Diaz',      2],
        ],
    },
    {
        id       => 'co_globex',
        slug     => 'globex',
        name     => 'Globex Electrical',
        account  => 'acc_demo',
        currency => 'USD',
        timezone => 'America/Chicago',
        prefix   => 'GLBX',
        clients  => [['Dana Ellis', 2], ['Evergreen Dental', 2]],
    },
    {
        id       => 'co_initech',
        slug     => 'initech',
        name     => 'Initech Heating & Cooling',
        account  => 'acc_other',
        currency => 'EUR',
        timezone => 'Europe/Berlin',
        prefix   => 'INIT',
        clients  => [['Frieda Gruber', 2], ['Hofmann GmbH', 2]],
    },
);

our @JOB_STATUSES     = qw(scheduled in_progress completed cancelled);
our @INVOICE_STATUSES = qw(draft sent paid void);

sub build () {
    my $seq = 0;
    my %native = map { $_ => {} } qw(companies clients jobs invoices line_items attachments);
    my $add = sub ($res, $rec) { $rec->{_seq} = ++$seq; $native{$res}{$rec->{id}} = $rec };

    # Companies
    my $ci = 0;
    for my $co (@COMPANIES) {
        my $t = iso8601(_t(2025, 12, 1, 9) + 86400 * $ci++);
        $add->(companies => {
            id         => $co->{id},
            name       => $co->{name},
            account_id => $co->{account},
            currency   => $co->{currency},
            timezone   => $co->{timezone},
            created_at => $t,
            updated_at => $t,
            _account   => $co->{account},
        });
    }

    # Clients, jobs, invoices, line items, attachments
    my $g = 0;
    for my $co (@COMPANIES) {
        my $invno = 1000;
        my $k     = 0;
        for my $cl (@{$co->{clients}}) {
            my ($name, $njobs) = @$cl;
            $k++;
            $g++;
            my $cid  = "cl_$co->{slug}_$k";
            my $mail = lc $name;
            $mail =~ s/[^a-z]+/./g;
            my $ctime = _t(2026, 1, $g, 10);
            $add->(clients => {
                id         => $cid,
                company_id => $co->{id},
                name       => $name,
                email      => "$mail\@example.com",
                phone      => sprintf('+1-555-01%02d', $g),
                status     => $cid eq 'cl_globex_2' ? 'archived' : 'active',
                created_at => iso8601($ctime),
                updated_at => iso8601($ctime + 86400),
                _account   => $co->{account},
            });

            # cl_acme_1's jobs are updated hourly from 2026-02-01T01:00Z on,
            # every other client's from its own day in January.
            my $jbase = $cid eq 'cl_acme_1' ? _t(2026, 2, 1) : _t(2026, 1, 10 + $g);
            for my $n (1 .. $njobs) {
                my $nn   = sprintf '%02d', $n;
                my $tag  = "$co->{slug}_${k}_$nn";
                my $jt   = $jbase + 3600 * $n;
                my $jid  = "job_$tag";
                $add->(jobs => {
                    id           => $jid,
                    company_id   => $co->{id},
                    client_id    => $cid,
                    title        => "$name job $n",
                    description  => "Seeded job $n for $name",
                    status       => $JOB_STATUSES[($n - 1) % 4],
                    scheduled_at => iso8601(_t(2026, 3, 1, 8) + 86400 * ($n - 1) + 3600 * $g),
                    created_at   => iso8601($jt - 3600),
                    updated_at   => iso8601($jt),
                    _account     => $co->{account},
                });
                _invoice($add, $co, "inv_$tag", $jid, $cid, $jt + 1800, $n, ++$invno,
                    ["li_${tag}_1", "li_${tag}_2"]);
                $add->(attachments => {
                    id           => "att_$tag",
                    job_id       => $jid,
                    filename     => "job-$co->{slug}-$k-$nn.jpg",
                    content_type => 'image/jpeg',
                    size         => 2048 + $n,
                    created_at   => iso8601($jt),
                    updated_at   => iso8601($jt),
                    _account     => $co->{account},
                });
            }

            # The tricky record: a job (with invoice, line item and attachment)
            # whose company is unknown. Its client is cl_acme_2.
            if ($cid eq 'cl_acme_2') {
                my $jt = _t(2026, 1, 20);
                $add->(jobs => {
                    id           => 'job_acme_orphan',
                    company_id   => undef,
                    client_id    => $cid,
                    title        => 'Unfiled enquiry (company unknown)',
                    description  => 'Seeded record with company_id null',
                    status       => 'scheduled',
                    scheduled_at => undef,
                    created_at   => iso8601($jt),
                    updated_at   => iso8601($jt),
                    _account     => $co->{account},
                });
                my $inv = _invoice($add, $co, 'inv_acme_orphan', 'job_acme_orphan', $cid,
                    $jt, 1, 0, ['li_acme_orphan_1']);
                $inv->{company_id} = undef;
                $inv->{number}     = 'ACME-0000';
                $add->(attachments => {
                    id           => 'att_acme_orphan',
                    job_id       => 'job_acme_orphan',
                    filename     => 'orphan.pdf',
                    content_type => 'application/pdf',
                    size         => 4096,
                    created_at   => iso8601($jt),
                    updated_at   => iso8601($jt),
                    _account     => $co->{account},
                });
            }
        }
    }

    my $cc = _client_commander($add, \$seq);
    return {native => \%native, cc => $cc, seq => $seq};
}

sub _invoice ($add, $co, $id, $jid, $cid, $t, $n, $invno, $li_ids) {
    my @items;
    my @lines = (['Labour (hours)', 2, 45], ['Parts', (($n - 1) % 3) + 1, 12.5]);
    my $i = 0;
    for my $li_id (@$li_ids) {
        my ($desc, $qty, $price) = @{$lines[$i++]};
        push @items, $add->(line_items => {
            id          => $li_id,
            invoice_id  => $id,
            description => $desc,
            quantity    => $qty,
            unit_price  => $price,
            created_at  => iso8601($t),
            updated_at  => iso8601($t),
            _account    => $co->{account},
        });
    }
    my $total = 0;
    $total += $_->{quantity} * $_->{unit_price} for @items;
    return $add->(invoices => {
        id         => $id,
        company_id => $co->{id},
        client_id  => $cid,
        job_id     => $jid,
        number     => "$co->{prefix}-$invno",
        total      => 0 + sprintf('%.2f', $total),
        currency   => $co->{currency},
        status     => $INVOICE_STATUSES[($n - 1) % 4],
        issued_at  => iso8601($t),
        created_at => iso8601($t),
        updated_at => iso8601($t),
        _account   => $co->{account},
    });
}

my @FIRST = qw(Ava Ben Chloe Dan Emma Finn Grace Hugo Isla Jack Kara Liam Mia Noah Olive Paul
    Quinn Ruby Sam Tess Uma Vic Wren Xavi Yara);
my @LAST = qw(Adams Brown Clark Davis Evans);

sub _client_commander ($add, $seqref) {
    my %cc = map { $_ => {} } qw(people deals users teams);
    my $put = sub ($res, $rec) { $rec->{_seq} = ++$$seqref; $cc{$res}{$rec->{id}} = $rec };

    my @users = (
        ['usr_cc_demo_1', 'Dana', 'Demo', 'dana@example.com', 'owner', 'acc_demo'],
        ['usr_cc_demo_2', 'Devin', 'Dispatch', 'devin@example.com', 'agent', 'acc_demo'],
        ['usr_cc_other_1', 'Olga', 'Other', 'olga@example.com', 'owner', 'acc_other'],
    );
    for my $u (@users) {
        $put->(users => {
            id        => $u->[0],
            firstName => $u->[1],
            lastName  => $u->[2],
            name      => "$u->[1] $u->[2]",
            email     => $u->[3],
            role      => $u->[4],
            _account  => $u->[5],
        });
    }
    my @teams = (
        ['team_demo_east', 'East', ['usr_cc_demo_1'], 'acc_demo'],
        ['team_demo_west', 'West', ['usr_cc_demo_2'], 'acc_demo'],
        ['team_other_main', 'Main', ['usr_cc_other_1'], 'acc_other'],
    );
    for my $t (@teams) {
        $put->(teams => {id => $t->[0], name => $t->[1], userIds => $t->[2], _account => $t->[3]});
    }

    my @stages = qw(stg_lead stg_prospect stg_client);
    my $person = sub ($id, $first, $last, $i, $agent, $account) {
        my $t = iso8601(_t(2026, 1, 1, 12) + 3600 * $i);
        $put->(people => {
            id              => $id,
            firstName       => $first,
            lastName        => $last,
            emails          => [{value => lc("$first.$last\@example.com"), type => 'work'}],
            phones          => [{value => sprintf('+1-555-02%02d', $i), type => 'mobile'}],
            assignedAgentId => $agent,
            stageId         => $stages[($i - 1) % 3],
            tags            => $i % 5 == 0 ? ['vip'] : [],
            createdAt       => $t,
            updatedAt       => $t,
            _account        => $account,
        });
    };
    for my $i (1 .. 25) {
        $person->(sprintf('per_demo_%02d', $i), $FIRST[$i - 1], $LAST[($i - 1) % 5], $i,
            $i % 2 ? 'usr_cc_demo_1' : 'usr_cc_demo_2', 'acc_demo');
    }
    my @other = (['Otto', 'Olsen'], ['Pia', 'Persson'], ['Rolf', 'Rask']);
    for my $i (1 .. 3) {
        $person->(sprintf('per_other_%02d', $i), @{$other[$i - 1]}, 30 + $i, 'usr_cc_other_1',
            'acc_other');
    }

    my @deal_stages = qw(stg_qualify stg_proposal stg_won);
    my @titles = ('Boiler replacement', 'Bathroom refit', 'Annual service plan',
        'Solar install', 'Drain survey', 'Heat pump quote');
    for my $i (1 .. 6) {
        my $t = iso8601(_t(2026, 1, 15, 9) + 3600 * $i);
        $put->(deals => {
            id         => sprintf('deal_demo_%02d', $i),
            title      => $titles[$i - 1],
            pipelineId => 'pl_sales',
            stageId    => $deal_stages[($i - 1) % 3],
            peopleIds  => [sprintf('per_demo_%02d', 2 * $i - 1), sprintf('per_demo_%02d', 2 * $i)],
            teamIds    => [$i % 2 ? 'team_demo_east' : 'team_demo_west'],
            createdAt  => $t,
            updatedAt  => $t,
            _account   => 'acc_demo',
        });
    }
    my $t = iso8601(_t(2026, 1, 16, 9));
    $put->(deals => {
        id         => 'deal_other_01',
        title      => 'Office HVAC contract',
        pipelineId => 'pl_sales',
        stageId    => 'stg_qualify',
        peopleIds  => ['per_other_01'],
        teamIds    => ['team_other_main'],
        createdAt  => $t,
        updatedAt  => $t,
        _account   => 'acc_other',
    });
    return \%cc;
}

1;
