# stats_metrics.t - the stats path's metrics, exact after known calls:
# fibonacci-service's delivery (queue entries and records, drops, batches
# and requests sent, retries, refused batches, delivery lag) and
# stats-service's store (requests applied, duplicate batches, refusals,
# operation latency and errors, by store kind), through a stats-service
# outage, a --max-tracked refusal and a PostgreSQL that is stopped.
# Deliveries are waited for by polling /metrics, never by sleeping.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes ();
use FibTest;

my $WAIT = 30;                  # seconds, at most, for a delivery (ASan)

sub value {
    my ($port, $series) = @_;
    return metrics($port)->{value}{$series};
}

# Poll fibonacci-service's /metrics until $series reaches $want.
sub wait_value {
    my ($port, $series, $want) = @_;
    return poll_until($WAIT, sub { (value($port, $series) // -1) == $want });
}

my $MEM = 'store="memory"';

# --- delivery, one request at a time: one batch each --------------------
my $sm = free_port();
my $stats = start_stats('metrics-listen' => "127.0.0.1:$sm");
my $fm = free_port();
my $fib = start_fib(stats => $stats->{target},
                    'metrics-listen' => "127.0.0.1:$fm");

my $v = metrics($fm)->{value};
is($v->{fib_stats_batches_sent_total}, 0, 'no batch sent yet');
is($v->{fib_stats_queue_entries}, 0, 'queue empty');
is($v->{fib_stats_delivery_lag_seconds_count}, 0, 'no lag observed yet');

for my $i (1 .. 3) {
    fibctl($fib->{target}, 'getfib', $i == 3 ? 11 : 10);
    ok(wait_value($fm, 'fib_stats_records_sent_total', $i),
       "request $i delivered");
}
$v = metrics($fm)->{value};
is($v->{fib_stats_batches_sent_total}, 3, '3 batches sent, one per request');
is($v->{fib_stats_records_sent_total}, 3, '3 requests sent');
is($v->{fib_stats_delivery_lag_seconds_count}, 3, 'a lag per batch');
ok($v->{fib_stats_delivery_lag_seconds_sum} > 0, 'lag > 0');
is($v->{fib_stats_queue_entries}, 0, 'queue empty again');
is($v->{fib_stats_queue_records}, 0, 'no request waiting');
is($v->{fib_stats_queue_dropped_total}, 0, 'nothing dropped');
is($v->{fib_stats_retries_total}, 0, 'no retry');
is($v->{fib_stats_rejected_total}, 0, 'nothing refused');
my $m = metrics($fm);
is(promtool_check($m->{text}), '', 'promtool: fibonacci-service clean');

$v = metrics($sm)->{value};
is($v->{"stats_records_applied_total{$MEM}"}, 3, 'stats: 3 requests applied');
is($v->{"stats_store_seconds_count{$MEM,op=\"apply\"}"}, 3,
   'stats: 3 applies timed');
is($v->{"stats_batches_duplicate_total{$MEM}"}, 0, 'stats: no duplicate');

# A batch of two records, sent twice: applied once, refused once.
my $st = $stats->{target};
is((fibctl($st, 'batch', 'metrics-t', 1, '7:100,8:200'))[0], 0, 'a batch');
my ($rc, $j) = fibctl($st, 'batch', 'metrics-t', 1, '7:100,8:200');
ok($rc == 0 && $j->{duplicate}, 'the same batch again: a duplicate');
fibctl($st, 'record', 9, 1000);
fibctl($st, 'record', -1, 1000);          # invalid: never reaches the store
fibctl($st, 'stats') for 1 .. 2;          # one snapshot: nothing changed
$m = metrics($sm);
$v = $m->{value};
is($v->{"stats_records_applied_total{$MEM}"}, 6, 'stats: 6 requests applied');
is($v->{"stats_batches_duplicate_total{$MEM}"}, 1, 'stats: 1 duplicate');
is($v->{"stats_store_seconds_count{$MEM,op=\"apply\"}"}, 6,
   'stats: 6 applies (the duplicate too, not the invalid record)');
is($v->{"stats_store_seconds_count{$MEM,op=\"snapshot\"}"}, 1,
   'stats: 1 snapshot for two unchanged reads');
is($v->{"stats_store_errors_total{$MEM,op=\"apply\"}"}, 0, 'stats: no error');
is($v->{"stats_records_refused_total{$MEM}"}, 0, 'stats: nothing refused');
is(promtool_check($m->{text}), '', 'promtool: stats-service clean');
is(stop($fib), 0, 'fibonacci-service stopped');
is(stop($stats), 0, 'stats-service stopped');

# --- an outage: the sender retries its batch, a full queue drops, the lag
# covers the outage, and a stats-service that tracks one n refuses a batch
my $later = free_port();
$fm = free_port();
$fib = start_fib(stats => "127.0.0.1:$later", 'stats-queue' => 1,
                 'metrics-listen' => "127.0.0.1:$fm");
fibctl($fib->{target}, 'getfib', 10);
my $t0 = Time::HiRes::time();             # n=10 was queued before this
ok(poll_until($WAIT, sub { value($fm, 'fib_stats_retries_total') >= 1 }),
   'the sender retries its batch (n=10) while stats-service is away');
fibctl($fib->{target}, 'getfib', 11);     # queued: the queue's one entry
fibctl($fib->{target}, 'getfib', 10);     # a second n: the queue is full
$v = metrics($fm)->{value};
is($v->{fib_stats_queue_entries}, 1, 'queue: 1 entry (n=11)');
is($v->{fib_stats_queue_records}, 1, 'queue: 1 request in it');
is($v->{fib_stats_queue_dropped_total}, 1, 'queue: the second n=10 dropped');
is($v->{fib_stats_batches_sent_total}, 0, 'nothing sent yet');

$sm = free_port();
my $outage = Time::HiRes::time() - $t0;  # nothing is acknowledged before
$stats = start_stats(listen => "127.0.0.1:$later", 'max-tracked' => 1,
                     'metrics-listen' => "127.0.0.1:$sm");
ok(wait_value($fm, 'fib_stats_rejected_total', 1),
   'n=11 refused by stats-service (--max-tracked 1): 1 request');
$v = metrics($fm)->{value};
is($v->{fib_stats_records_sent_total}, 1, 'n=10 delivered: 1 request');
is($v->{fib_stats_batches_sent_total}, 1, 'in 1 batch');
is($v->{fib_stats_queue_entries}, 0, 'queue empty');
is($v->{fib_stats_delivery_lag_seconds_count}, 1, '1 lag observed');
cmp_ok($v->{fib_stats_delivery_lag_seconds_sum}, '>=', $outage,
       'the lag covers the outage');
my $resumed = grep { $_->{event} eq 'stats_resumed' } log_lines($fib);
is($resumed, 1, 'stats_resumed logged once');
$v = metrics($sm)->{value};
is($v->{"stats_records_applied_total{$MEM}"}, 1, 'stats: 1 applied');
is($v->{"stats_records_refused_total{$MEM}"}, 1, 'stats: 1 refused');
is(stop($fib), 0, 'fibonacci-service stopped');
is(stop($stats), 0, 'stats-service stopped');

# --- PostgreSQL stopped: the store's errors, by kind ----------------------
SKIP: {
    skip 'no PostgreSQL (run under tests/with-postgres)', 6
        unless $ENV{STATS_TEST_PG_URL} && $ENV{TEST_PG_CTL};
    my $pg_ctl = sub {
        system("$ENV{TEST_PG_CTL} @_ -D $ENV{TEST_PG_DIR} -w >/dev/null 2>&1")
            == 0;
    };
    my $PG = 'store="postgresql"';
    $sm = free_port();
    $stats = start_stats(store => $ENV{STATS_TEST_PG_URL},
                         'metrics-listen' => "127.0.0.1:$sm");
    is((fibctl($stats->{target}, 'record', 7, 100))[0], 0, 'pg: recorded');
    ok($pg_ctl->('stop', '-m', 'fast'), 'PostgreSQL stopped');
    ($rc, $j) = fibctl($stats->{target}, 'record', 7, 100);
    is($j->{code}, 'UNAVAILABLE', 'pg down: UNAVAILABLE');
    ok($pg_ctl->('start', '-o', "'$ENV{TEST_PG_OPTS}'", '-l',
                 $ENV{TEST_PG_LOG}), 'PostgreSQL started again');
    is((fibctl($stats->{target}, 'record', 7, 100))[0], 0, 'pg: recorded');
    $v = metrics($sm)->{value};
    is_deeply([map { $v->{$_} } "stats_records_applied_total{$PG}",
                                "stats_store_errors_total{$PG,op=\"apply\"}",
                                "stats_store_seconds_count{$PG,op=\"apply\"}"],
              [2, 1, 3], 'pg: 2 applied, 1 error, 3 applies timed');
    stop($stats);
}

done_testing();
