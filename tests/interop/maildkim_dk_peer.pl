#!/usr/bin/perl
# Mail::DKIM as a DomainKeys (RFC 4870) signing peer for `cargo xtask interop`.
#
#   maildkim_dk_peer.pl sign --key PEM --domain D --selector S --canon simple|nofws
#                            [--h] --out-dir DIR FILE...
#       Signs each FILE with a DomainKey-Signature (rsa-sha1) made through a signer policy
#       that adds a Mail::DKIM::DkSignature (the SignerPolicy section of
#       `perldoc Mail::DKIM::Signer`), and writes DIR/<basename>. With --h the signature
#       lists the signed fields in h= ($dkim->headers); without it, it signs every field
#       and has no h=. Prints "maildkim dk sign: N signed, M failed".
#
# Verification of DomainKey-Signature fields needs nothing of its own: maildkim_peer.pl
# verify checks every signature Mail::DKIM::Verifier finds, DomainKeys ones included.
# Bare LF line ends are read as CRLF and a missing final CRLF is added, as an MTA puts a
# message on the wire.
use strict;
use warnings;
use File::Basename qw(basename);
use Getopt::Long qw(GetOptionsFromArray);
use Mail::DKIM::Signer;
use Mail::DKIM::DkSignature;

sub read_message {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    local $/;
    my $data = <$fh>;
    $data =~ s/(?<!\r)\n/\r\n/g;
    $data .= "\r\n" if length $data && $data !~ /\r\n\z/;
    return $data;
}

sub cmd_sign {
    my @args = @_;
    my ( $key, $domain, $selector, $canon, $with_h, $out ) =
      ( undef, undef, undef, 'simple', 0 );
    GetOptionsFromArray(
        \@args,
        'key=s'      => \$key,
        'domain=s'   => \$domain,
        'selector=s' => \$selector,
        'canon=s'    => \$canon,
        'h'          => \$with_h,
        'out-dir=s'  => \$out,
    ) or die "bad options\n";
    die "--key, --domain, --selector and --out-dir are required\n"
      unless defined $key && defined $domain && defined $selector && defined $out;
    mkdir $out unless -d $out;
    my $failed = 0;
    for my $path (@args) {
        my $ok = eval {
            my $msg    = read_message($path);
            my $policy = sub {
                my $dkim = shift;
                $dkim->add_signature(
                    Mail::DKIM::DkSignature->new(
                        Algorithm => 'rsa-sha1',
                        Method    => $canon,
                        ( $with_h ? ( Headers => $dkim->headers ) : () ),
                        Domain   => $domain,
                        Selector => $selector,
                    )
                );
                return;
            };
            my $signer = Mail::DKIM::Signer->new(
                Policy  => $policy,
                KeyFile => $key,
            );
            $signer->PRINT($msg);
            $signer->CLOSE;
            my $sig = $signer->signature or die "no signature made\n";
            $sig = $sig->as_string;
            $sig =~ s/(?<!\r)\n/\r\n/g;
            open my $fh, '>:raw', "$out/" . basename($path) or die "$!\n";
            print $fh $sig, "\r\n", $msg;
            close $fh;
            1;
        };
        unless ($ok) { $failed++; print "FAIL $path: $@" }
    }
    printf "maildkim dk sign: %d signed, %d failed\n", @args - $failed, $failed;
    return $failed ? 1 : 0;
}

my $cmd = shift @ARGV // '';
if ( $cmd eq 'sign' ) { exit cmd_sign(@ARGV) }
else { print STDERR "usage: maildkim_dk_peer.pl sign --key PEM --domain D --selector S ...\n"; exit 2 }
