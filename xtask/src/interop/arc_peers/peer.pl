# Mail::DKIM as an ARC peer of `cargo xtask interop` (arc_peers.rs writes it into its work dir).
#
#   perl arc_peer.pl KEYS JOBS
# KEYS: lines `name<TAB>TXT data`, served through Mail::DKIM::DNS::resolver(),
# the documented hook for the resolver Mail::DKIM uses (no DNS).
# JOBS: tab-separated lines, one job each:
#   verify IN                        -> `ok IN CV DETAIL` (Mail::DKIM::ARC::Verifier)
#   seal IN OUT KEY ALG D S SRVID T RESULTS
#       Mail::DKIM validates the chain itself (ARC::Verifier), records RESULTS
#       and arc=CV in an Authentication-Results field for SRVID, seals with
#       ARC::Signer (Chain => CV) and writes the new set on top of the message
#       as it came to OUT -> `ok IN CV`.
# A job that dies prints `err IN WHY`.
use strict;
use warnings;
use Mail::DKIM::ARC::Verifier;
use Mail::DKIM::ARC::Signer;
use Mail::DKIM::DNS;
use Net::DNS;

package KeysResolver;

sub new { my ( $class, $keys ) = @_; return bless { keys => $keys }, $class }

sub send {
    my ( $self, $name, $type ) = @_;
    my $p = Net::DNS::Packet->new( $name, $type, 'IN' );
    $p->header->qr(1);
    ( my $key = lc $name ) =~ s/\.$//;
    if ( uc( $type // '' ) eq 'TXT' && defined $self->{keys}{$key} ) {
        my $data = $self->{keys}{$key};
        my @strings = unpack '(A255)*', $data;
        $p->push( answer => Net::DNS::RR->new( name => $name, type => 'TXT', txtdata => [@strings] ) );
    }
    else {
        $p->header->rcode('NXDOMAIN');
    }
    return $p;
}

sub errorstring { return 'NOERROR' }

package main;

my %keys;
open my $kf, '<', $ARGV[0] or die "$ARGV[0]: $!\n";
while (<$kf>) {
    chomp;
    my ( $name, $data ) = split /\t/, $_, 2;
    ( my $k = lc $name ) =~ s/\.$//;
    $keys{$k} = $data;
}
Mail::DKIM::DNS::resolver( KeysResolver->new( \%keys ) );

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    local $/;
    return scalar <$fh>;
}

sub validate {
    my ($msg) = @_;
    my $v = Mail::DKIM::ARC::Verifier->new();
    $v->PRINT($msg);
    $v->CLOSE;
    return ( $v->result, $v->result_detail // '' );
}

sub seal {
    my ( $msg, $out, $key, $alg, $d, $s, $srv, $t, $results ) = @_;
    my ($cv) = validate($msg);
    my $ar = "Authentication-Results: $srv; $results; arc=$cv\015\012";
    my $signer = Mail::DKIM::ARC::Signer->new(
        Algorithm => $alg, Domain => $d, Selector => $s, SrvId => lc $srv,
        KeyFile => $key, Chain => $cv, Timestamp => $t,
    );
    $signer->PRINT( $ar . $msg );
    $signer->CLOSE;
    die 'not sealed: ' . ( $signer->{details} // $signer->result ) . "\n"
      unless $signer->result eq 'sealed';
    open my $fh, '>:raw', $out or die "$out: $!\n";
    print $fh $signer->as_string, $msg;
    close $fh or die "$out: $!\n";
    return $cv;
}

$| = 1;
open my $jobs, '<', $ARGV[1] or die "$ARGV[1]: $!\n";
while ( my $line = <$jobs> ) {
    chomp $line;
    my @job = split /\t/, $line;
    my @out = eval {
        my $msg = slurp( $job[1] );
        $job[0] eq 'verify' ? validate($msg) : seal( $msg, @job[ 2 .. 9 ] );
    };
    if (@out) {
        s/[\r\n\t]+/ /g for @out;
        print join( "\t", 'ok', $job[1], @out ), "\n";
    }
    else {
        ( my $why = $@ || 'no result' ) =~ s/[\r\n\t]+/ /g;
        print "err\t$job[1]\t$why\n";
    }
}
