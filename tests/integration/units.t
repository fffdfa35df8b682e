# units.t - the systemd units in conf/systemd are Type=notify with a
# watchdog, and `systemd-analyze verify` accepts them without a warning (with ExecStart
# pointed at the binaries under test, since /usr/local/bin holds none here).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Temp ();
use Test::More;

my $bin_dir = abs_path($ENV{FIB_BIN_DIR} // 'build/bin');
my $analyze = '/usr/bin/systemd-analyze';
plan skip_all => "$analyze is missing (install the systemd package)"
    unless -x $analyze;
my $dir = File::Temp->newdir();

for my $name (qw(fibonacci-service stats-service)) {
    open(my $in, '<', "conf/systemd/$name.service") or die "$name: $!";
    my $unit = do { local $/; <$in> };
    like($unit, qr/^Type=notify$/m, "$name.service: Type=notify");
    like($unit, qr/^WatchdogSec=\d+/m, "$name.service: WatchdogSec");
    $unit =~ s{/usr/local/bin/}{$bin_dir/}g;
    open(my $out, '>', "$dir/$name.service") or die;
    print $out $unit;
    close $out;
    my $report = `$analyze verify $dir/$name.service 2>&1`;
    # unknown keys are only warned about: any output fails the test
    ok($? == 0 && $report eq '', "$name.service: systemd-analyze verify")
        or diag($report);
}

done_testing();
